// The tlog-witness add-checkpoint body as both sides read and write it: a request round-trips,
// and every malformation the spec forbids is refused before witness_cosign sees it; the
// statuses of the cosigning outcomes are the spec's.
#include "ceremonies/witness/add_checkpoint.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/tlog/note.h"

namespace hsm {
namespace {

const std::string kNote =
    "example.com/log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n"
    "\xE2\x80\x94 example.com/log AAAAAAAAAAAAAAAAAAAA\n";

tlog::Hash hash_of(std::uint8_t b) {
  tlog::Hash h{};
  h.fill(b);
  return h;
}

void expect_bad_request(const std::string& body, const std::string& needle) {
  try {
    parse_add_checkpoint(body);
    ADD_FAILURE() << "accepted: " << body;
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), Category::usage);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(AddCheckpointBody, ARequestRoundTrips) {
  const std::vector<tlog::Hash> proof{hash_of(1), hash_of(2)};
  const std::string body = format_add_checkpoint(3, proof, kNote);
  EXPECT_EQ(body.rfind("old 3\n" + tlog::to_base64(hash_of(1)) + "\n", 0), 0u) << body;
  const AddCheckpointRequest r = parse_add_checkpoint(body);
  EXPECT_EQ(r.old_size, 3u);
  EXPECT_EQ(r.proof, proof);
  EXPECT_EQ(r.checkpoint, kNote);
  EXPECT_EQ(parse_add_checkpoint("old 0\n\n" + kNote).old_size, 0u);
}

TEST(AddCheckpointBody, MalformedBodiesAreBadRequests) {
  expect_bad_request("", "'old N'");
  expect_bad_request("old 03\n\n" + kNote, "'old N'");
  expect_bad_request("old +3\n\n" + kNote, "'old N'");
  expect_bad_request("old 3 \n\n" + kNote, "'old N'");
  expect_bad_request("old 99999999999999999999\n\n" + kNote, "'old N'");
  expect_bad_request("old 3\nnot base64\n\n" + kNote, "line 1 is not a base64 hash");
  expect_bad_request("old 3\n" + tlog::to_base64(hash_of(1)), "no empty line");
  expect_bad_request("old 0\n" + tlog::to_base64(hash_of(1)) + "\n\n" + kNote, "from size 0");
  std::string many = "old 3\n";
  for (int i = 0; i < 64; ++i) many += tlog::to_base64(hash_of(1)) + "\n";
  expect_bad_request(many + "\n" + kNote, "at most 63");
  expect_bad_request("old 3\n\nexample.com/log\n5\n", "");  // a checkpoint without a signature
}

TEST(AddCheckpointBody, OutcomesMapToTheSpecStatuses) {
  EXPECT_EQ(http_status(CosignOutcome::cosigned, 3, 5), 200);
  EXPECT_EQ(http_status(CosignOutcome::unknown_origin, 3, 5), 404);
  EXPECT_EQ(http_status(CosignOutcome::not_signed, 3, 5), 403);
  EXPECT_EQ(http_status(CosignOutcome::bad_request, 6, 5), 400);
  EXPECT_EQ(http_status(CosignOutcome::conflict, 3, 5), 409);
  EXPECT_EQ(http_status(CosignOutcome::bad_proof, 3, 5), 422);
  EXPECT_EQ(http_status(CosignOutcome::fork, 5, 5), 409);
  EXPECT_EQ(http_status(CosignOutcome::rollback, 0, 5), 409);
  EXPECT_EQ(http_status(CosignOutcome::rollback, 8, 5), 400);
  EXPECT_EQ(format_tlog_size(17), "17\n");
  EXPECT_EQ(parse_tlog_size("17\n"), 17u);
  EXPECT_THROW(parse_tlog_size("17"), Error);
  EXPECT_THROW(parse_tlog_size("017\n"), Error);
}

}  // namespace
}  // namespace hsm
