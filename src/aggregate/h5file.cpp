// RAII wrappers over the HDF5 C API (see h5file.hpp).
#include "scorefarm/aggregate/h5file.hpp"

#include <algorithm>
#include <fstream>
#include <memory>

namespace scorefarm::aggregate::h5 {

void quiet_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    o.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Handle::reset() {
  if (id_ < 0) return;
  switch (H5Iget_type(id_)) {
    case H5I_FILE: H5Fclose(id_); break;
    case H5I_GROUP: H5Gclose(id_); break;
    case H5I_DATASET: H5Dclose(id_); break;
    case H5I_DATASPACE: H5Sclose(id_); break;
    case H5I_DATATYPE: H5Tclose(id_); break;
    case H5I_ATTR: H5Aclose(id_); break;
    case H5I_GENPROP_LST: H5Pclose(id_); break;
    default: H5Idec_ref(id_); break;
  }
  id_ = H5I_INVALID_HID;
}

Handle check(hid_t id, const std::string& what) {
  if (id < 0) throw H5Error("HDF5: " + what + " failed");
  return Handle(id);
}

void check(herr_t status, const std::string& what) {
  if (status < 0) throw H5Error("HDF5: " + what + " failed");
}

namespace {

Handle open_file(const std::string& path, unsigned flags) {
  quiet_errors();
  {
    std::ifstream probe(path, std::ios::binary);
    if (!probe) throw InputError(path + ": cannot open file (does it exist? is it readable?)");
  }
  if (H5Fis_hdf5(path.c_str()) <= 0) throw InputError(path + ": not an HDF5 file");
  // Default file-access properties: the serial sec2 driver, no MPI.
  hid_t id = H5Fopen(path.c_str(), flags, H5P_DEFAULT);
  if (id < 0)
    throw H5Error(path + ": HDF5 could not open the file " +
                  (flags == H5F_ACC_RDWR ? "for writing" : "for reading") +
                  " (is a run still writing it? a file left open by a killed writer may need "
                  "`h5clear -s " + path + "`)");
  return Handle(id);
}

}  // namespace

Handle open_file_readonly(const std::string& path) { return open_file(path, H5F_ACC_RDONLY); }
Handle open_file_readwrite(const std::string& path) { return open_file(path, H5F_ACC_RDWR); }

bool exists(hid_t loc, const std::string& name) {
  // H5Lexists needs every intermediate component to exist: walk the path.
  std::string prefix;
  std::size_t pos = 0;
  while (pos <= name.size()) {
    std::size_t slash = name.find('/', pos);
    if (slash == std::string::npos) slash = name.size();
    std::string part = name.substr(pos, slash - pos);
    if (!part.empty()) {
      prefix += prefix.empty() && name[0] != '/' ? part : "/" + part;
      htri_t r = H5Lexists(loc, prefix.c_str(), H5P_DEFAULT);
      if (r <= 0) return false;
    }
    pos = slash + 1;
  }
  return true;
}

Handle open_group(hid_t loc, const std::string& name) {
  return check(H5Gopen2(loc, name.c_str(), H5P_DEFAULT), "opening group " + name);
}

Handle open_dataset(hid_t loc, const std::string& name) {
  return check(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), "opening dataset " + name);
}

Handle create_group(hid_t loc, const std::string& name) {
  return check(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
               "creating group " + name);
}

namespace {
herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}
}  // namespace

std::vector<std::string> child_names(hid_t loc) {
  std::vector<std::string> names;
  hsize_t idx = 0;
  check(H5Literate(loc, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_name, &names),
        "listing group members");
  return names;
}

std::vector<hsize_t> dataset_dims(hid_t dataset) {
  Handle space = check(H5Dget_space(dataset), "getting dataspace");
  int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0) throw H5Error("HDF5: reading dataspace rank failed");
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  if (rank > 0) check(H5Sget_simple_extent_dims(space, dims.data(), nullptr), "reading dims");
  return dims;
}

H5T_class_t dataset_class(hid_t dataset) {
  Handle type = check(H5Dget_type(dataset), "getting datatype");
  return H5Tget_class(type);
}

std::vector<double> read_doubles(hid_t dataset) {
  auto dims = dataset_dims(dataset);
  hsize_t total = 1;
  for (auto d : dims) total *= d;
  std::vector<double> out(total);
  if (total > 0)
    check(H5Dread(dataset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()),
          "reading dataset");
  return out;
}

namespace {

// Reads strings from a dataset or attribute of string type `file_type`, `count` elements.
template <class ReadFn>
std::vector<std::string> read_string_values(hid_t file_type, std::size_t count, ReadFn read) {
  std::vector<std::string> out;
  if (H5Tget_class(file_type) != H5T_STRING) throw InputError("expected a string value");
  if (H5Tis_variable_str(file_type) > 0) {
    Handle mem = check(H5Tcopy(H5T_C_S1), "copying string type");
    check(H5Tset_size(mem, H5T_VARIABLE), "setting string size");
    check(H5Tset_cset(mem, H5Tget_cset(file_type)), "setting charset");
    std::vector<char*> ptrs(count, nullptr);
    if (count > 0) read(mem.get(), static_cast<void*>(ptrs.data()));
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    // Release the library-allocated strings.
    for (char* p : ptrs) H5free_memory(p);
  } else {
    std::size_t size = H5Tget_size(file_type);
    Handle mem = check(H5Tcopy(H5T_C_S1), "copying string type");
    check(H5Tset_size(mem, size), "setting string size");
    check(H5Tset_strpad(mem, H5T_STR_NULLPAD), "setting string padding");
    std::vector<char> buf(count * size + 1, '\0');
    if (count > 0) read(mem.get(), static_cast<void*>(buf.data()));
    for (std::size_t i = 0; i < count; ++i) {
      std::string s(buf.data() + i * size, size);
      s.erase(s.find_last_not_of(std::string("\0 ", 2)) + 1);
      out.push_back(s);
    }
  }
  return out;
}

std::size_t element_count(hid_t space) {
  hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n < 0) throw H5Error("HDF5: counting elements failed");
  return static_cast<std::size_t>(n);
}

}  // namespace

std::vector<std::string> read_strings(hid_t dataset) {
  Handle type = check(H5Dget_type(dataset), "getting datatype");
  Handle space = check(H5Dget_space(dataset), "getting dataspace");
  return read_string_values(type, element_count(space), [&](hid_t mem, void* buf) {
    check(H5Dread(dataset, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), "reading strings");
  });
}

void read_block(hid_t dataset, const std::vector<hsize_t>& start, const std::vector<hsize_t>& count,
                hid_t mem_type, void* out) {
  Handle file_space = check(H5Dget_space(dataset), "getting dataspace");
  check(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start.data(), nullptr, count.data(),
                            nullptr),
        "selecting hyperslab");
  hsize_t total = 1;
  for (auto c : count) total *= c;
  Handle mem_space = check(H5Screate_simple(1, &total, nullptr), "creating memory space");
  check(H5Dread(dataset, mem_type, mem_space, file_space, H5P_DEFAULT, out), "reading hyperslab");
}

bool has_attribute(hid_t obj, const std::string& name) {
  return H5Aexists(obj, name.c_str()) > 0;
}

namespace {
Handle open_attribute(hid_t obj, const std::string& name) {
  if (!has_attribute(obj, name)) throw InputError("missing attribute '" + name + "'");
  return check(H5Aopen(obj, name.c_str(), H5P_DEFAULT), "opening attribute " + name);
}
}  // namespace

std::vector<std::string> read_string_list_attribute(hid_t obj, const std::string& name) {
  Handle attr = open_attribute(obj, name);
  Handle type = check(H5Aget_type(attr), "getting attribute type");
  Handle space = check(H5Aget_space(attr), "getting attribute space");
  if (H5Tget_class(type) != H5T_STRING)
    throw InputError("attribute '" + name + "' is not a string");
  return read_string_values(type, element_count(space), [&](hid_t mem, void* buf) {
    check(H5Aread(attr, mem, buf), "reading attribute " + name);
  });
}

std::string read_string_attribute(hid_t obj, const std::string& name) {
  auto values = read_string_list_attribute(obj, name);
  if (values.size() != 1) throw InputError("attribute '" + name + "' is not a single string");
  return values[0];
}

std::int64_t read_int_attribute(hid_t obj, const std::string& name) {
  Handle attr = open_attribute(obj, name);
  Handle type = check(H5Aget_type(attr), "getting attribute type");
  Handle space = check(H5Aget_space(attr), "getting attribute space");
  if (H5Tget_class(type) != H5T_INTEGER || element_count(space) != 1)
    throw InputError("attribute '" + name + "' is not one integer");
  std::int64_t v = 0;
  check(H5Aread(attr, H5T_NATIVE_INT64, &v), "reading attribute " + name);
  return v;
}

std::uint64_t read_uint_attribute(hid_t obj, const std::string& name) {
  Handle attr = open_attribute(obj, name);
  Handle type = check(H5Aget_type(attr), "getting attribute type");
  Handle space = check(H5Aget_space(attr), "getting attribute space");
  if (H5Tget_class(type) != H5T_INTEGER || element_count(space) != 1)
    throw InputError("attribute '" + name + "' is not one integer");
  std::uint64_t v = 0;
  check(H5Aread(attr, H5T_NATIVE_UINT64, &v), "reading attribute " + name);
  return v;
}

namespace {

void write_numeric(hid_t loc, const std::string& name, const std::vector<hsize_t>& dims,
                   hid_t file_type, hid_t mem_type, const void* data) {
  Handle space = check(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                       "creating dataspace for " + name);
  Handle ds = check(H5Dcreate2(loc, name.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT,
                               H5P_DEFAULT),
                    "creating dataset " + name);
  hsize_t total = 1;
  for (auto d : dims) total *= d;
  if (total > 0)
    check(H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "writing dataset " + name);
}

// Fixed-length, null-padded UTF-8 strings of the longest value's size. Not variable-length: those
// live in the file's global heap, whose space is never reclaimed when /summary is replaced, so every
// rerun would grow the file.
Handle utf8_fixed_type(const std::vector<std::string>& values) {
  std::size_t size = 1;
  for (const auto& v : values) size = std::max(size, v.size());
  Handle t = check(H5Tcopy(H5T_C_S1), "copying string type");
  check(H5Tset_size(t, size), "setting string size");
  check(H5Tset_strpad(t, H5T_STR_NULLPAD), "setting string padding");
  check(H5Tset_cset(t, H5T_CSET_UTF8), "setting charset");
  return t;
}

std::vector<char> pack_strings(const std::vector<std::string>& values, std::size_t size) {
  std::vector<char> buf(std::max<std::size_t>(1, values.size() * size), '\0');
  for (std::size_t i = 0; i < values.size(); ++i)
    std::copy(values[i].begin(), values[i].end(), buf.begin() + static_cast<std::ptrdiff_t>(i * size));
  return buf;
}

}  // namespace

void write_doubles(hid_t loc, const std::string& name, const std::vector<hsize_t>& dims,
                   const double* data) {
  write_numeric(loc, name, dims, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, data);
}

void write_int64s(hid_t loc, const std::string& name, const std::vector<hsize_t>& dims,
                  const std::int64_t* data) {
  write_numeric(loc, name, dims, H5T_STD_I64LE, H5T_NATIVE_INT64, data);
}

void write_strings(hid_t loc, const std::string& name, const std::vector<std::string>& values) {
  Handle type = utf8_fixed_type(values);
  hsize_t n = values.size();
  Handle space = check(H5Screate_simple(1, &n, nullptr), "creating dataspace for " + name);
  Handle ds = check(H5Dcreate2(loc, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT,
                               H5P_DEFAULT),
                    "creating dataset " + name);
  const auto buf = pack_strings(values, H5Tget_size(type));
  if (n > 0)
    check(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()), "writing " + name);
}

namespace {
void replace_attribute(hid_t obj, const std::string& name) {
  if (has_attribute(obj, name)) check(H5Adelete(obj, name.c_str()), "deleting attribute " + name);
}
}  // namespace

void write_attribute(hid_t obj, const std::string& name, const std::string& value) {
  // A single string is stored as a scalar attribute (h5py reads it back as one value).
  replace_attribute(obj, name);
  Handle type = utf8_fixed_type({value});
  Handle space = check(H5Screate(H5S_SCALAR), "creating scalar space");
  Handle attr = check(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT),
                      "creating attribute " + name);
  const auto buf = pack_strings({value}, H5Tget_size(type));
  check(H5Awrite(attr, type, buf.data()), "writing attribute " + name);
}

void write_attribute(hid_t obj, const std::string& name, std::int64_t value) {
  replace_attribute(obj, name);
  Handle space = check(H5Screate(H5S_SCALAR), "creating scalar space");
  Handle attr = check(H5Acreate2(obj, name.c_str(), H5T_STD_I64LE, space, H5P_DEFAULT,
                                 H5P_DEFAULT),
                      "creating attribute " + name);
  check(H5Awrite(attr, H5T_NATIVE_INT64, &value), "writing attribute " + name);
}

void write_attribute(hid_t obj, const std::string& name, std::uint64_t value) {
  replace_attribute(obj, name);
  Handle space = check(H5Screate(H5S_SCALAR), "creating scalar space");
  Handle attr = check(H5Acreate2(obj, name.c_str(), H5T_STD_U64LE, space, H5P_DEFAULT,
                                 H5P_DEFAULT),
                      "creating attribute " + name);
  check(H5Awrite(attr, H5T_NATIVE_UINT64, &value), "writing attribute " + name);
}

void write_attribute(hid_t obj, const std::string& name, double value) {
  replace_attribute(obj, name);
  Handle space = check(H5Screate(H5S_SCALAR), "creating scalar space");
  Handle attr = check(H5Acreate2(obj, name.c_str(), H5T_IEEE_F64LE, space, H5P_DEFAULT,
                                 H5P_DEFAULT),
                      "creating attribute " + name);
  check(H5Awrite(attr, H5T_NATIVE_DOUBLE, &value), "writing attribute " + name);
}

void write_attribute(hid_t obj, const std::string& name, const std::vector<double>& values) {
  replace_attribute(obj, name);
  hsize_t n = values.size();
  Handle space = check(H5Screate_simple(1, &n, nullptr), "creating attribute space");
  Handle attr = check(H5Acreate2(obj, name.c_str(), H5T_IEEE_F64LE, space, H5P_DEFAULT,
                                 H5P_DEFAULT),
                      "creating attribute " + name);
  check(H5Awrite(attr, H5T_NATIVE_DOUBLE, values.data()), "writing attribute " + name);
}

void write_attribute(hid_t obj, const std::string& name, const std::vector<std::string>& values) {
  replace_attribute(obj, name);
  Handle type = utf8_fixed_type(values);
  hsize_t n = values.size();
  Handle space = check(H5Screate_simple(1, &n, nullptr), "creating attribute space");
  Handle attr = check(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT),
                      "creating attribute " + name);
  const auto buf = pack_strings(values, H5Tget_size(type));
  check(H5Awrite(attr, type, buf.data()), "writing attribute " + name);
}

}  // namespace scorefarm::aggregate::h5
