#pragma once
// Thin, honest RAII wrappers over the HDF5 C API (the HighFive pattern, see shared/STYLE.md).
//
// - Every hid_t has exactly one owner (`Handle`), which closes it with the matching H5?close.
// - Every C call is checked. A failure throws `Hdf5Error`, which names the operation, the file and
//   the HDF5 error stack (walked with H5Ewalk2), so the user reads "opening dataset /records/done
//   in out.h5: H5Dopen2: object 'done' doesn't exist" instead of a page of HDF5 diagnostics.
// - HDF5's automatic error printing is turned off once, the first time any wrapper is used.
#include <hdf5.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace scorefarm::io {

// An HDF5 call failed. what() = "<operation> [in <file>]: <HDF5 error stack, innermost last>".
class Hdf5Error : public std::runtime_error {
 public:
  Hdf5Error(std::string operation, std::string file, std::string stack);
  const std::string& operation() const { return operation_; }
  const std::string& file() const { return file_; }
  const std::string& stack() const { return stack_; }  // "" when HDF5 left no error stack

 private:
  std::string operation_, file_, stack_;
};

namespace h5 {

// Turns off HDF5's automatic error printing (idempotent; every wrapper calls it).
void init();

// The current HDF5 error stack as "func: message; func: message", then clears it.
std::string take_error_stack();

// Throws Hdf5Error(operation, file, stack) when `status` < 0.
void check(herr_t status, const std::string& operation, const std::string& file = "");

// The kind of object a Handle owns: picks the close function.
enum class Kind { file, group, dataset, dataspace, datatype, attribute, plist };

// Owner of one hid_t.
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, Kind kind) : id_(id), kind_(kind) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& other) noexcept : id_(other.id_), kind_(other.kind_) { other.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& other) noexcept;
  ~Handle() { reset(); }

  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }  // NOLINT: handles go straight into C calls
  bool valid() const { return id_ >= 0; }
  // Closes the object; errors on close are reported only by close() below.
  void reset() noexcept;
  // Closes the object and throws on failure (for files, where close writes metadata).
  void close(const std::string& what, const std::string& file = "");

 private:
  hid_t id_ = H5I_INVALID_HID;
  Kind kind_ = Kind::plist;
};

// Throws Hdf5Error when id < 0, else returns the owner.
Handle own(hid_t id, Kind kind, const std::string& operation, const std::string& file = "");

// ---- property lists ----
Handle file_access_serial();  // sec2 driver, HDF5 file locking off (scorefarm has its own lock file)
Handle plist(hid_t cls);      // H5Pcreate(cls)

// ---- files ----
// True when `path` exists and HDF5 recognises its signature (never throws for a missing file).
bool is_hdf5(const std::string& path);
Handle open_file(const std::string& path, unsigned flags, hid_t fapl);
Handle create_file(const std::string& path, unsigned flags, hid_t fcpl, hid_t fapl);

// ---- groups, datasets, links ----
bool link_exists(hid_t loc, const std::string& name, const std::string& file = "");
Handle open_group(hid_t loc, const std::string& name, const std::string& file = "");
Handle create_group(hid_t loc, const std::string& name, const std::string& file = "");
Handle open_dataset(hid_t loc, const std::string& name, const std::string& file = "");
std::vector<std::string> child_names(hid_t group, const std::string& file = "");

// ---- types and spaces ----
Handle vlen_utf8_type();
Handle simple_space(const std::vector<hsize_t>& dims);
Handle scalar_space();
std::vector<hsize_t> dataset_dims(hid_t dataset, const std::string& file = "");

// ---- attributes (create or replace) ----
void write_attribute(hid_t obj, const std::string& name, const std::string& value,
                     const std::string& file = "");
void write_attribute(hid_t obj, const std::string& name, const std::vector<std::string>& values,
                     const std::string& file = "");
void write_attribute_i64(hid_t obj, const std::string& name, std::int64_t value,
                         const std::string& file = "");
void write_attribute_u64(hid_t obj, const std::string& name, std::uint64_t value,
                         const std::string& file = "");
bool attribute_exists(hid_t obj, const std::string& name, const std::string& file = "");
std::string read_string_attribute(hid_t obj, const std::string& name, const std::string& file = "");
std::int64_t read_i64_attribute(hid_t obj, const std::string& name, const std::string& file = "");

// ---- raw data ----
// Writes/reads `count` elements at `start` (one entry per dimension) of `dataset` from/into
// `buffer` of memory type `mem_type`, with transfer property list `dxpl`.
void write_block(hid_t dataset, const std::vector<hsize_t>& start, const std::vector<hsize_t>& count,
                 hid_t mem_type, const void* buffer, hid_t dxpl, const std::string& what,
                 const std::string& file = "");
void read_block(hid_t dataset, const std::vector<hsize_t>& start, const std::vector<hsize_t>& count,
                hid_t mem_type, void* buffer, hid_t dxpl, const std::string& what,
                const std::string& file = "");

// "1.10.8"
std::string library_version();

}  // namespace h5
}  // namespace scorefarm::io
