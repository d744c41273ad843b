#include "core/secrets/secret_store.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/json_string_view.h"
#include "core/base/status_macros.h"

namespace batchd::core {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr uintmax_t kMaxSecretsFileBytes = uintmax_t{1} << 20;

absl::StatusOr<std::string> ReadFile(const fs::path& path) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": ", ec.message()));
  }
  if (size > kMaxSecretsFileBytes) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": ", size,
                                                   " bytes is over the maximum of ",
                                                   kMaxSecretsFileBytes, " for secrets"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(path.string(), ": cannot be read"));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// One member of a secrets file: "name": "value" or "name": {"value": ..., "executors": [...]}.
absl::Status AddMember(SecretStore& store, const std::string& file, absl::string_view name,
                       const json::value& definition) {
  const auto problem = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": secret '", name, "': ", what));
  };
  if (definition.is_string()) {
    return store.Add(std::string(name), std::string(View(definition.get_string())),
                     {std::string(kDefaultSecretReader)});
  }
  if (!definition.is_object()) {
    return problem("must be a string (its value) or an object {\"value\", \"executors\"}");
  }
  const json::object& o = definition.get_object();
  for (const auto& member : o) {
    if (member.key() != "value" && member.key() != "executors") {
      return problem(absl::StrCat("unknown member '", View(member.key()),
                                  "' (a secret has \"value\" and \"executors\")"));
    }
  }
  const json::value* value = o.if_contains("value");
  if (value == nullptr || !value->is_string()) return problem("\"value\" must be a string");
  std::vector<std::string> readers;
  if (const json::value* executors = o.if_contains("executors")) {
    if (!executors->is_array() || executors->get_array().empty()) {
      return problem("\"executors\" must be a non-empty array of executor names");
    }
    for (const json::value& e : executors->get_array()) {
      if (!e.is_string() || e.get_string().empty()) {
        return problem("\"executors\" must be a non-empty array of executor names");
      }
      readers.emplace_back(View(e.get_string()));
    }
  } else {
    readers.emplace_back(kDefaultSecretReader);
  }
  return store.Add(std::string(name), std::string(View(value->get_string())), std::move(readers));
}

absl::StatusOr<SecretStore> LoadFile(const fs::path& path) {
  const std::string file = path.string();
  ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  boost::system::error_code ec;
  const json::value parsed = json::parse(text, ec);
  if (ec) {
    // The parser's message names the kind of error, never the text it read.
    return absl::InvalidArgumentError(absl::StrCat(file, ": not valid JSON (", ec.message(), ")"));
  }
  if (!parsed.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ": must be a JSON object of secrets by name"));
  }
  SecretStore store;
  for (const auto& member : parsed.get_object()) {
    const absl::Status added = AddMember(store, file, View(member.key()), member.value());
    if (!added.ok() && !absl::StartsWith(added.message(), file)) {
      return absl::InvalidArgumentError(absl::StrCat(file, ": ", added.message()));
    }
    RETURN_IF_ERROR(added);
  }
  return store;
}

absl::StatusOr<SecretStore> LoadDirectory(const fs::path& path) {
  std::error_code ec;
  std::vector<fs::path> files;
  for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (absl::StartsWith(name, ".")) continue;  // hidden, and Kubernetes' ..data links
    std::error_code type_ec;
    if (!fs::is_regular_file(it->path(), type_ec)) continue;  // follows links, as mounts use
    files.push_back(it->path());
  }
  if (ec) return absl::InvalidArgumentError(absl::StrCat(path.string(), ": ", ec.message()));
  std::sort(files.begin(), files.end());
  SecretStore store;
  for (const fs::path& file : files) {
    ASSIGN_OR_RETURN(std::string value, ReadFile(file));
    if (absl::EndsWith(value, "\n")) value.pop_back();
    const absl::Status added =
        store.Add(file.filename().string(), std::move(value), {std::string(kDefaultSecretReader)});
    if (!added.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(file.string(), ": ", added.message()));
    }
  }
  return store;
}

}  // namespace

bool IsSecretName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxSecretNameBytes) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

bool Secret::ReadableBy(absl::string_view executor) const {
  return std::binary_search(readers.begin(), readers.end(), executor);
}

absl::Status SecretStore::Add(std::string name, std::string value,
                              std::vector<std::string> readers) {
  if (!IsSecretName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("secret '", name.substr(0, kMaxSecretNameBytes),
                     "': a name is 1 to 128 letters, digits, '_', '.' or '-'"));
  }
  if (value.empty())
    return absl::InvalidArgumentError(absl::StrCat("secret '", name, "' is empty"));
  if (readers.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("secret '", name, "': no executor may read it"));
  }
  std::sort(readers.begin(), readers.end());
  readers.erase(std::unique(readers.begin(), readers.end()), readers.end());
  const auto [it, inserted] =
      secrets_.try_emplace(name, Secret{std::move(value), std::move(readers)});
  if (!inserted) {
    return absl::InvalidArgumentError(absl::StrCat("secret '", name, "' is defined twice"));
  }
  return absl::OkStatus();
}

const Secret* SecretStore::Find(absl::string_view name) const {
  const auto it = secrets_.find(name);
  return it == secrets_.end() ? nullptr : &it->second;
}

std::vector<std::string> SecretStore::Names() const {
  std::vector<std::string> names;
  names.reserve(secrets_.size());
  for (const auto& [name, secret] : secrets_) names.push_back(name);
  return names;
}

absl::StatusOr<SecretStore> LoadSecrets(const std::string& path) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file or directory"));
  }
  if (fs::is_directory(status)) return LoadDirectory(path);
  return LoadFile(path);
}

}  // namespace batchd::core
