#pragma once
// Minimal RAII wrappers over the HDF5 C API for the serial readers (aggregate, compare).
//
// Written inside src/aggregate because the io module's wrappers did not exist when this module was
// built. One wrapper per C call, each checking the return code and throwing H5Error naming the
// operation and the object (the HighFive pattern, see shared/STYLE.md). Every hid_t has an owner.
// Files are opened with the default (sec2) driver: the aggregator is serial and needs no MPI even
// though the library it links is parallel HDF5.
#include <hdf5.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace scorefarm::aggregate {

// An HDF5 call failed (I/O error, corrupt file). Runtime error: exit code 1.
struct H5Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The file is not what the schema promises (missing dataset, wrong shape, not HDF5). Bad input:
// the drivers map it to exit code 2.
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace h5 {

// Turns off HDF5's automatic error-stack printing: our exceptions carry the message instead.
void quiet_errors();

// Owner of one hid_t; closes it with the matching H5?close.
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(o.id_) { o.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& o) noexcept;
  ~Handle() { reset(); }
  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }  // NOLINT: handles are passed straight to C calls
  bool valid() const { return id_ >= 0; }
  void reset();

 private:
  hid_t id_ = H5I_INVALID_HID;
};

// Throws H5Error("<what>") when id < 0; returns an owning handle otherwise.
Handle check(hid_t id, const std::string& what);
void check(herr_t status, const std::string& what);

// Files. `path` is only used for messages. open_* throw InputError for a missing or non-HDF5 file.
Handle open_file_readonly(const std::string& path);
Handle open_file_readwrite(const std::string& path);

bool exists(hid_t loc, const std::string& name);  // link exists (one path component or full path)
Handle open_group(hid_t loc, const std::string& name);
Handle open_dataset(hid_t loc, const std::string& name);
Handle create_group(hid_t loc, const std::string& name);

// Names of the links directly in group `loc`, in name order.
std::vector<std::string> child_names(hid_t loc);

std::vector<hsize_t> dataset_dims(hid_t dataset);
// Type class of a dataset (H5T_FLOAT, H5T_INTEGER, H5T_STRING...).
H5T_class_t dataset_class(hid_t dataset);

// Whole 1-D datasets (small: the cell table).
std::vector<double> read_doubles(hid_t dataset);
std::vector<std::string> read_strings(hid_t dataset);  // variable- or fixed-length strings

// Hyperslab of `count` elements starting at `start` (one start/count per dimension) into `out`,
// converted to the memory type (H5T_NATIVE_DOUBLE, H5T_NATIVE_UINT32, H5T_NATIVE_UINT8...).
void read_block(hid_t dataset, const std::vector<hsize_t>& start, const std::vector<hsize_t>& count,
                hid_t mem_type, void* out);

// Attributes.
bool has_attribute(hid_t obj, const std::string& name);
std::string read_string_attribute(hid_t obj, const std::string& name);
std::vector<std::string> read_string_list_attribute(hid_t obj, const std::string& name);
std::int64_t read_int_attribute(hid_t obj, const std::string& name);
std::uint64_t read_uint_attribute(hid_t obj, const std::string& name);

// Writing (the /summary group only).
void write_doubles(hid_t loc, const std::string& name, const std::vector<hsize_t>& dims,
                   const double* data);
void write_int64s(hid_t loc, const std::string& name, const std::vector<hsize_t>& dims,
                  const std::int64_t* data);
void write_strings(hid_t loc, const std::string& name, const std::vector<std::string>& values);
void write_attribute(hid_t obj, const std::string& name, const std::string& value);
void write_attribute(hid_t obj, const std::string& name, std::int64_t value);
void write_attribute(hid_t obj, const std::string& name, std::uint64_t value);
void write_attribute(hid_t obj, const std::string& name, double value);
void write_attribute(hid_t obj, const std::string& name, const std::vector<double>& values);
void write_attribute(hid_t obj, const std::string& name, const std::vector<std::string>& values);

}  // namespace h5
}  // namespace scorefarm::aggregate
