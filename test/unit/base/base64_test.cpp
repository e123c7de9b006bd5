// RFC 4648 section 10 test vectors, and what kubeconfigs and caBundles throw at the decoder.
#include "base/base64.h"

#include <gtest/gtest.h>

namespace gpushare::base {
namespace {

TEST(Base64, Rfc4648VectorsAndStrictness) {
  const std::pair<std::string, std::string> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(plain), encoded);
    auto d = base64_decode(encoded);
    ASSERT_TRUE(d) << encoded;
    EXPECT_EQ(*d, plain);
  }
  const std::string binary("\x00\xff\xfe\x80\x7f", 5);
  auto round = base64_decode(base64_encode(binary));
  ASSERT_TRUE(round);
  EXPECT_EQ(*round, binary);
  EXPECT_TRUE(base64_decode("Zm9v\nYmFy\n"));  // `base64` without -w0 wraps lines
  EXPECT_FALSE(base64_decode("Zm9"));
  EXPECT_FALSE(base64_decode("Zm9v!"));
  EXPECT_FALSE(base64_decode("Zg==Zg=="));
  EXPECT_FALSE(base64_decode("Z==="));
}

}  // namespace
}  // namespace gpushare::base
