// The broker's wire format: each message is a 4-byte big-endian length followed by that many
// bytes of JSON (nlohmann). Requests and replies are JSON objects; see docs/keystore.md.
#pragma once

#include <cstdint>
#include <string>

namespace keystore {

// Frames above this size are refused (the broker answers with an error and closes the connection).
// The protocol's ceiling; a broker refuses frames above keystore.limits.max_frame_bytes (at least
// kMinFrameLimit). BrokerClient splits a question so that each frame stays below kQuestionBytes.
constexpr std::uint32_t kMaxFrameBytes = 1024 * 1024;
constexpr std::uint32_t kMinFrameLimit = 64 * 1024;
constexpr std::uint32_t kQuestionBytes = 48 * 1024;

// The 4-byte header for a body of `size` bytes.
std::string frame_header(std::uint32_t size);
// The body length from a 4-byte header.
std::uint32_t frame_length(const unsigned char header[4]);
// Header + body.
std::string frame(const std::string& body);

}  // namespace keystore
