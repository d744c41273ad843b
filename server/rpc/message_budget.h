// How big one streamed message may grow: every stream that carries user data (StreamResults,
// WorkerService.Connect) packs its repeated items into messages of at most
// kMaxStreamMessageBytes serialized, so a client with gRPC's default 4 MiB receive limit reads
// them all; a single item over the bound goes alone. Constants and free functions; thread-safe.
#pragma once

#include <google/protobuf/io/coded_stream.h>

#include <cstddef>

namespace batchd::server {

// Well under gRPC's default 4 MiB receive limit, and small enough that one message does not
// hold up a stream's other messages for long.
inline constexpr size_t kMaxStreamMessageBytes = size_t{1} << 20;

// What an embedded message of `bytes` serialized adds to its parent as an element of a field
// numbered below 16: one tag byte, the length varint, the bytes.
inline size_t FramedFieldBytes(size_t bytes) {
  return 1 + google::protobuf::io::CodedOutputStream::VarintSize64(bytes) + bytes;
}

// Whether an element of `framed` bytes (FramedFieldBytes) joins a message already holding
// `used` bytes in `count` elements: while the total stays within `max_bytes`, and always as
// the first element.
inline bool FitsInMessage(size_t used, size_t count, size_t framed, size_t max_bytes) {
  return count == 0 || used + framed <= max_bytes;
}

}  // namespace batchd::server
