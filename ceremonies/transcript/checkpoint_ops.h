// Checkpoints of the workspace log (c2sp.org/tlog-checkpoint): the tree head of the whole
// transcript, signed as a C2SP note (type 0x02, ECDSA P-256) by the transcript key, kept as
// DIR/tlog/checkpoint with the cosignatures witnesses add to it. Never signs a checkpoint
// that is not consistent with the one kept before it.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "ceremonies/workspace.h"
#include "core/tlog/note.h"
#include "core/tlog/tiles.h"
#include "core/transcript/appender.h"

namespace hsm {

// The origin line: `configured` when set (log_origin in hsmctl.toml), else
// "hsmctl/<16 hex digits of entry 0's leaf hash>", which names this log and no other.
std::string log_origin(const std::string& configured, tlog::TreeStore& tree);

// The log's verifier key: the origin as its name, the transcript key's DER SPKI (type 0x02).
tlog::VerifierKey log_verifier_key(const std::string& origin, const Bytes& spki);

// Signs the tree head of everything appended so far and stores it as DIR/tlog/checkpoint
// (replaced atomically). Refuses (integrity) when the kept checkpoint is not a prefix of the
// log as it is now: the log was rewritten since.
tlog::Note sign_checkpoint(transcript::Transcript& t, transcript::Signer& signer,
                           const std::string& configured_origin);

// `hsmctl transcript checkpoint`: a recorded ceremony whose end makes the checkpoint; fails
// (rather than leaving it to the next ceremony) when the checkpoint cannot be made.
tlog::Note checkpoint_ceremony(Workspace& ws);

std::filesystem::path checkpoint_path(const std::filesystem::path& transcript);
// DIR/tlog/checkpoints/<size>: every checkpoint signed, with the cosignatures added to it (a
// receipt's checkpoint is one of these).
std::filesystem::path checkpoint_history_path(const std::filesystem::path& transcript,
                                              std::uint64_t size);
std::optional<tlog::Note> load_checkpoint_of_size(const std::filesystem::path& transcript,
                                                  std::uint64_t size);

// Adds witnesses' cosignature lines to the checkpoints they sign (the kept one and its copy
// in the history). Each line must verify under one of `witnesses` over one of the log's
// checkpoints (integrity otherwise). Returns the sizes of the checkpoints that gained one.
std::vector<std::uint64_t> add_cosignatures(const std::filesystem::path& transcript,
                                            const std::string& lines,
                                            const std::vector<tlog::VerifierKey>& witnesses);
// The kept checkpoint, if any.
std::optional<tlog::Note> load_checkpoint(const std::filesystem::path& transcript);

// Writes the C2SP tiles of the log `transcript` up to its kept checkpoint `note` into `dir`
// (`transcript publish`, `transcript export --tiles`); Error(integrity) when the checkpoint
// does not match the log.
tlog::PublishStats publish_checkpoint_tiles(const std::filesystem::path& transcript,
                                            const tlog::Note& note,
                                            const std::filesystem::path& dir);
void store_checkpoint(const std::filesystem::path& transcript, const tlog::Note& note);

}  // namespace hsm
