#include "scorefarm/study/study_config.hpp"

namespace scorefarm {

namespace {
std::string locate(const std::string& file, int line, int column, const std::string& key,
                   const std::string& message) {
  std::string text = file;
  if (line > 0) text += ":" + std::to_string(line) + ":" + std::to_string(column);
  text += ": ";
  if (!key.empty()) text += key + ": ";
  return text + message;
}
}  // namespace

ConfigError::ConfigError(std::string file, int line, int column, std::string key,
                         std::string message)
    : std::runtime_error(locate(file, line, column, key, message)),
      file_(std::move(file)),
      key_(std::move(key)),
      message_(std::move(message)),
      line_(line),
      column_(column) {}

std::string fnv1a64_hex(const std::string& text) {
  std::uint64_t hash = 14695981039346656037ull;  // FNV-1a 64 offset basis
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;  // FNV-1a 64 prime
  }
  static const char digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, hash >>= 4) out[static_cast<std::size_t>(i)] = digits[hash & 0xf];
  return out;
}

}  // namespace scorefarm
