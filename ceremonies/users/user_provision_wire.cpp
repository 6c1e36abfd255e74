// Frames between user provision workers and their parent (see the header).
#include "ceremonies/users/user_provision_wire.h"

#include <cstdint>
#include <cstring>

namespace hsm::wire {

namespace {

constexpr std::size_t kMaxFrame = 1 << 20;  // a user's frame is under 4 KiB even for RSA

// Little-endian integers of `bytes` bytes, appended, written over, or read.
template <std::size_t bytes>
void store_le(char* at, std::uint64_t v) {
  for (std::size_t i = 0; i < bytes; ++i) at[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

template <std::size_t bytes>
void put_le(std::string& out, std::uint64_t v) {
  out.resize(out.size() + bytes);
  store_le<bytes>(out.data() + out.size() - bytes, v);
}

template <std::size_t bytes>
std::uint64_t load_le(std::string_view in) {
  std::uint64_t v = 0;
  for (std::size_t i = bytes; i-- > 0;) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

void put_bytes(std::string& out, std::string_view b) {
  put_le<4>(out, b.size());
  out += b;
}

void put_bytes(std::string& out, ByteView b) {
  put_bytes(out, std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
}

// Writes the frame's length into the 4-byte hole begin() left, once its body is written.
std::string finish(std::string frame) {
  store_le<4>(frame.data(), frame.size() - 4);
  return frame;
}

std::string begin(Kind kind) {
  std::string frame(4, '\0');
  frame += static_cast<char>(kind);
  return frame;
}

[[noreturn]] void malformed(std::string_view what) {
  fail(Category::general,
       "a provisioning worker sent a malformed report (" + std::string(what) + ")");
}

// Reads the fields of one frame body.
class Fields {
 public:
  explicit Fields(std::string_view body) : rest_(body) {}
  std::uint64_t u64() {
    need(8);
    const std::uint64_t v = load_le<8>(rest_);
    rest_.remove_prefix(8);
    return v;
  }
  std::string_view text() {
    need(4);
    const std::uint64_t n = load_le<4>(rest_);
    rest_.remove_prefix(4);
    need(n);
    const std::string_view v = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return v;
  }
  Bytes bytes() {
    const std::string_view v = text();
    return Bytes(v.begin(), v.end());
  }
  Category category() {
    const std::uint64_t c = u64();
    if (c > static_cast<std::uint64_t>(Category::not_found)) malformed("unknown error category");
    return static_cast<Category>(c);
  }
  bool done() const noexcept { return rest_.empty(); }

 private:
  void need(std::size_t n) const {
    if (rest_.size() < n) malformed("a field runs past the end of its frame");
  }
  std::string_view rest_;
};

}  // namespace

std::string ready_frame() { return finish(begin(Kind::ready)); }

std::string outcome_frame(const SealOutcome& o) {
  std::string f = begin(Kind::outcome);
  put_le<8>(f, o.index);
  put_le<8>(f, o.ok ? 1 : 0);
  if (!o.ok) {
    put_le<8>(f, static_cast<std::uint64_t>(o.category));
    put_bytes(f, std::string_view(o.error));
    return finish(std::move(f));
  }
  const auto& s = o.user.secrets;
  put_bytes(f, ByteView(o.user.public_key));
  put_bytes(f, ByteView(s.kdf.salt));
  put_le<8>(f, s.kdf.opslimit);
  put_le<8>(f, s.kdf.memlimit);
  put_bytes(f, ByteView(s.signing_key.nonce));
  put_bytes(f, ByteView(s.signing_key.ciphertext));
  if (s.ecdh_key && o.user.ecdh_public_key) {
    put_bytes(f, ByteView(*o.user.ecdh_public_key));
    put_bytes(f, ByteView(s.ecdh_key->nonce));
    put_bytes(f, ByteView(s.ecdh_key->ciphertext));
  }
  return finish(std::move(f));
}

std::string fatal_frame(Category category, std::string_view message) {
  std::string f = begin(Kind::fatal);
  put_le<8>(f, static_cast<std::uint64_t>(category));
  put_bytes(f, message);
  return finish(std::move(f));
}

void FrameReader::append(const char* data, std::size_t size) {
  if (pos_ > 0 && pos_ >= buffer_.size() / 2) {  // drop what was handed out, now and then
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
  buffer_.append(data, size);
}

std::optional<std::string_view> FrameReader::front() const {
  const std::string_view rest = std::string_view(buffer_).substr(pos_);
  if (rest.size() < 4) return std::nullopt;
  const std::uint64_t n = load_le<4>(rest);
  if (n == 0 || n > kMaxFrame) malformed("bad frame length");
  if (rest.size() - 4 < n) return std::nullopt;
  return rest.substr(4, n);
}

std::optional<Kind> FrameReader::peek() const {
  const auto body = front();
  if (!body) return std::nullopt;
  return static_cast<Kind>(body->front());
}

std::optional<Frame> FrameReader::next(const std::vector<ProvisionRow>& rows,
                                       const std::string& profile) {
  const auto whole = front();
  if (!whole) return std::nullopt;
  const std::string_view body = *whole;
  pos_ += 4 + body.size();
  Frame frame;
  Fields in(body.substr(1));
  switch (static_cast<Kind>(body[0])) {
    case Kind::ready:
      frame.kind = Kind::ready;
      break;
    case Kind::fatal:
      frame.kind = Kind::fatal;
      frame.outcome.category = in.category();
      frame.outcome.error = std::string(in.text());
      break;
    case Kind::outcome: {
      frame.kind = Kind::outcome;
      SealOutcome& o = frame.outcome;
      o.index = in.u64();
      if (o.index >= rows.size()) malformed("a row it was not given");
      o.ok = in.u64() == 1;
      if (!o.ok) {
        o.category = in.category();
        o.error = std::string(in.text());
        break;
      }
      keystore::UserRecord& u = o.user;
      u.name = rows[o.index].name;
      u.algorithm = rows[o.index].algorithm;
      u.public_key = in.bytes();
      u.secrets.kdf.profile = profile;
      u.secrets.kdf.salt = in.bytes();
      u.secrets.kdf.opslimit = in.u64();
      u.secrets.kdf.memlimit = in.u64();
      u.secrets.signing_key.nonce = in.bytes();
      u.secrets.signing_key.ciphertext = in.bytes();
      if (!in.done()) {
        u.ecdh_public_key = in.bytes();
        keystore::SealedBlob ecdh;
        ecdh.nonce = in.bytes();
        ecdh.ciphertext = in.bytes();
        u.secrets.ecdh_key = std::move(ecdh);
      }
      break;
    }
    default:
      malformed("unknown frame kind");
  }
  if (!in.done()) malformed("bytes left over in a frame");
  return frame;
}

}  // namespace hsm::wire
