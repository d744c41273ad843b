// `batchd --check-journal`: verifies the journal in a data directory without serving — SQLite's
// quick_check, every record's checksum, and that every batch's request and events decode.
// Call from main's thread; takes the directory's lock like a daemon would.
#pragma once

#include <string>
#include <vector>

namespace batchd::server {

struct JournalCheck {
  bool intact = false;
  std::vector<std::string> lines;  // what was found, one problem a line, then a summary
};

JournalCheck CheckJournal(const std::string& data_dir);

}  // namespace batchd::server
