// CRC-32C (Castagnoli), the checksum over each journal record. Pure function, thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

namespace batchd::core {

// The CRC-32C of `data`, continuing from `crc` (the CRC of what came before; 0 to start).
uint32_t Crc32c(std::string_view data, uint32_t crc = 0);

}  // namespace batchd::core
