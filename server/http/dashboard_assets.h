// The dashboard's files (server/http/assets/), compiled into the binary by CMake
// (embed_assets.cmake), so the page works with no network and no files beside batchd.
#pragma once

#include "absl/strings/string_view.h"

namespace batchd::server::http_api {

struct Asset {
  absl::string_view name;          // "index.html", "app.js"
  absl::string_view content_type;  // from the extension
  absl::string_view data;
  absl::string_view etag;  // a quoted digest of data
};

// The asset called `name` (a file name in server/http/assets/); nullptr if none.
const Asset* FindAsset(absl::string_view name);

}  // namespace batchd::server::http_api
