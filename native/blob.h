// A PreparedJail as bytes, for the -Me launcher (blob.cc).
//
// The addon writes the blob into a memfd and execs `jail-exec`, which reads it back. Both sides
// are built from the same sources in one build, so the layout needs no versioning beyond a magic
// number and a length check; everything is bounds-checked on reading all the same.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "prepared.h"

namespace jail {

// What -Me needs besides the jail itself.
struct ExecveExtras {
  uint32_t time_limit = 0;  // seconds, 0 = none
  // Failure sentences written by TypeScript: one per Stage, then one per mount op.
  std::vector<std::string> failure_texts;
};

std::string SerializeJail(const PreparedJail& j, const ExecveExtras& extras);

// Returns null and sets *error when the bytes are not a blob this build wrote.
std::unique_ptr<PreparedJail> DeserializeJail(const std::string& bytes, ExecveExtras* extras, std::string* error);

}  // namespace jail
