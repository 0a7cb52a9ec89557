// RAII wrappers over the HDF5 C API: every call checked, errors carry the HDF5 error stack.
#include "scorefarm/io/hdf5.hpp"

#include <sys/stat.h>

#include <cstring>
#include <mutex>

namespace scorefarm::io {

namespace {
std::string compose(const std::string& operation, const std::string& file, const std::string& stack) {
  std::string text = operation;
  if (!file.empty()) text += " in " + file;
  if (!stack.empty()) text += ": " + stack;
  return text;
}
}  // namespace

Hdf5Error::Hdf5Error(std::string operation, std::string file, std::string stack)
    : std::runtime_error(compose(operation, file, stack)),
      operation_(std::move(operation)),
      file_(std::move(file)),
      stack_(std::move(stack)) {}

namespace h5 {

void init() {
  static std::once_flag once;
  std::call_once(once, [] {
    H5open();
    // Our exceptions carry the stack (take_error_stack); HDF5 must not print it to stderr itself.
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  });
}

namespace {
herr_t collect(unsigned /*n*/, const H5E_error2_t* error, void* data) {
  auto* out = static_cast<std::vector<std::string>*>(data);
  std::string text = error->func_name ? error->func_name : "?";
  text += ": ";
  if (error->desc && *error->desc) {
    text += error->desc;
  } else {
    char minor[256] = {0};
    H5Eget_msg(error->min_num, nullptr, minor, sizeof minor);
    text += minor;
  }
  out->push_back(std::move(text));
  return 0;
}
}  // namespace

std::string take_error_stack() {
  init();
  std::vector<std::string> entries;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect, &entries);
  H5Eclear2(H5E_DEFAULT);
  std::string stack;
  for (const auto& entry : entries) {
    if (!stack.empty()) stack += "; ";
    stack += entry;
  }
  constexpr std::size_t max_length = 1500;
  if (stack.size() > max_length) stack = stack.substr(0, max_length) + "...";
  return stack;
}

void check(herr_t status, const std::string& operation, const std::string& file) {
  if (status < 0) throw Hdf5Error(operation, file, take_error_stack());
}

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    kind_ = other.kind_;
    other.id_ = H5I_INVALID_HID;
  }
  return *this;
}

namespace {
herr_t close_id(hid_t id, Kind kind) {
  switch (kind) {
    case Kind::file: return H5Fclose(id);
    case Kind::group: return H5Gclose(id);
    case Kind::dataset: return H5Dclose(id);
    case Kind::dataspace: return H5Sclose(id);
    case Kind::datatype: return H5Tclose(id);
    case Kind::attribute: return H5Aclose(id);
    case Kind::plist: return H5Pclose(id);
  }
  return -1;
}
}  // namespace

void Handle::reset() noexcept {
  if (id_ >= 0) {
    if (close_id(id_, kind_) < 0) H5Eclear2(H5E_DEFAULT);
    id_ = H5I_INVALID_HID;
  }
}

void Handle::close(const std::string& what, const std::string& file) {
  if (id_ < 0) return;
  const hid_t id = id_;
  id_ = H5I_INVALID_HID;
  check(close_id(id, kind_), what, file);
}

Handle own(hid_t id, Kind kind, const std::string& operation, const std::string& file) {
  if (id < 0) throw Hdf5Error(operation, file, take_error_stack());
  return Handle(id, kind);
}

Handle plist(hid_t cls) {
  init();
  return own(H5Pcreate(cls), Kind::plist, "creating a property list");
}

Handle file_access_serial() {
  Handle fapl = plist(H5P_FILE_ACCESS);
  check(H5Pset_fapl_sec2(fapl), "selecting the sec2 driver");
  // scorefarm serialises writers with its own lock file (<out>.lock); HDF5's flock() would only add
  // failures on file systems without flock support (some Lustre/NFS mounts). HDF5_USE_FILE_LOCKING
  // in the environment still overrides this, as HDF5 documents.
  check(H5Pset_file_locking(fapl, false, true), "turning HDF5 file locking off");
  return fapl;
}

bool is_hdf5(const std::string& path) {
  init();
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  Handle fapl = file_access_serial();
  (void)fapl;
  const htri_t answer = H5Fis_hdf5(path.c_str());
  if (answer < 0) {
    H5Eclear2(H5E_DEFAULT);
    return false;
  }
  return answer > 0;
}

Handle open_file(const std::string& path, unsigned flags, hid_t fapl) {
  init();
  return own(H5Fopen(path.c_str(), flags, fapl), Kind::file, "opening the HDF5 file", path);
}

Handle create_file(const std::string& path, unsigned flags, hid_t fcpl, hid_t fapl) {
  init();
  return own(H5Fcreate(path.c_str(), flags, fcpl, fapl), Kind::file, "creating the HDF5 file", path);
}

bool link_exists(hid_t loc, const std::string& name, const std::string& file) {
  init();
  const htri_t answer = H5Lexists(loc, name.c_str(), H5P_DEFAULT);
  if (answer < 0) throw Hdf5Error("checking for " + name, file, take_error_stack());
  return answer > 0;
}

Handle open_group(hid_t loc, const std::string& name, const std::string& file) {
  init();
  return own(H5Gopen2(loc, name.c_str(), H5P_DEFAULT), Kind::group, "opening group " + name, file);
}

Handle create_group(hid_t loc, const std::string& name, const std::string& file) {
  init();
  return own(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), Kind::group,
             "creating group " + name, file);
}

Handle open_dataset(hid_t loc, const std::string& name, const std::string& file) {
  init();
  return own(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), Kind::dataset, "opening dataset " + name, file);
}

namespace {
herr_t add_name(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}
}  // namespace

std::vector<std::string> child_names(hid_t group, const std::string& file) {
  init();
  std::vector<std::string> names;
  hsize_t index = 0;
  check(H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &index, add_name, &names),
        "listing a group", file);
  return names;
}

Handle vlen_utf8_type() {
  init();
  Handle type = own(H5Tcopy(H5T_C_S1), Kind::datatype, "copying the string type");
  check(H5Tset_size(type, H5T_VARIABLE), "making a variable-length string type");
  check(H5Tset_cset(type, H5T_CSET_UTF8), "making a UTF-8 string type");
  return type;
}

Handle simple_space(const std::vector<hsize_t>& dims) {
  init();
  return own(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), Kind::dataspace,
             "creating a dataspace");
}

Handle scalar_space() {
  init();
  return own(H5Screate(H5S_SCALAR), Kind::dataspace, "creating a scalar dataspace");
}

std::vector<hsize_t> dataset_dims(hid_t dataset, const std::string& file) {
  Handle space = own(H5Dget_space(dataset), Kind::dataspace, "getting a dataset's dataspace", file);
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0) throw Hdf5Error("getting a dataset's rank", file, take_error_stack());
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  check(H5Sget_simple_extent_dims(space, dims.data(), nullptr), "getting a dataset's shape", file);
  return dims;
}

namespace {
// Attributes are replaced, never appended: delete an existing one first.
Handle fresh_attribute(hid_t obj, const std::string& name, hid_t type, hid_t space,
                       const std::string& file) {
  if (attribute_exists(obj, name, file))
    check(H5Adelete(obj, name.c_str()), "replacing attribute " + name, file);
  return own(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), Kind::attribute,
             "creating attribute " + name, file);
}
}  // namespace

bool attribute_exists(hid_t obj, const std::string& name, const std::string& file) {
  init();
  const htri_t answer = H5Aexists(obj, name.c_str());
  if (answer < 0) throw Hdf5Error("checking attribute " + name, file, take_error_stack());
  return answer > 0;
}

void write_attribute(hid_t obj, const std::string& name, const std::string& value,
                     const std::string& file) {
  Handle type = vlen_utf8_type();
  Handle space = scalar_space();
  Handle attribute = fresh_attribute(obj, name, type, space, file);
  const char* pointer = value.c_str();
  check(H5Awrite(attribute, type, &pointer), "writing attribute " + name, file);
}

void write_attribute(hid_t obj, const std::string& name, const std::vector<std::string>& values,
                     const std::string& file) {
  Handle type = vlen_utf8_type();
  Handle space = simple_space({static_cast<hsize_t>(values.size())});
  Handle attribute = fresh_attribute(obj, name, type, space, file);
  std::vector<const char*> pointers;
  for (const auto& value : values) pointers.push_back(value.c_str());
  check(H5Awrite(attribute, type, pointers.data()), "writing attribute " + name, file);
}

void write_attribute_i64(hid_t obj, const std::string& name, std::int64_t value,
                         const std::string& file) {
  Handle space = scalar_space();
  Handle attribute = fresh_attribute(obj, name, H5T_STD_I64LE, space, file);
  check(H5Awrite(attribute, H5T_NATIVE_INT64, &value), "writing attribute " + name, file);
}

void write_attribute_u64(hid_t obj, const std::string& name, std::uint64_t value,
                         const std::string& file) {
  Handle space = scalar_space();
  Handle attribute = fresh_attribute(obj, name, H5T_STD_U64LE, space, file);
  check(H5Awrite(attribute, H5T_NATIVE_UINT64, &value), "writing attribute " + name, file);
}

std::string read_string_attribute(hid_t obj, const std::string& name, const std::string& file) {
  init();
  Handle attribute = own(H5Aopen(obj, name.c_str(), H5P_DEFAULT), Kind::attribute,
                         "opening attribute " + name, file);
  Handle type = own(H5Aget_type(attribute), Kind::datatype, "reading the type of attribute " + name, file);
  if (H5Tget_class(type) != H5T_STRING)
    throw Hdf5Error("reading attribute " + name, file, "it is not a string");
  Handle space = own(H5Aget_space(attribute), Kind::dataspace, "reading attribute " + name, file);
  if (H5Sget_simple_extent_npoints(space) != 1)
    throw Hdf5Error("reading attribute " + name, file, "it is not a single string");
  const htri_t variable = H5Tis_variable_str(type);
  if (variable < 0) throw Hdf5Error("reading attribute " + name, file, take_error_stack());
  if (variable > 0) {
    Handle memory = vlen_utf8_type();
    char* pointer = nullptr;
    check(H5Aread(attribute, memory, &pointer), "reading attribute " + name, file);
    std::string value = pointer ? pointer : "";
    H5free_memory(pointer);
    return value;
  }
  const std::size_t size = H5Tget_size(type);
  std::string value(size, '\0');
  check(H5Aread(attribute, type, value.data()), "reading attribute " + name, file);
  value.resize(std::strlen(value.c_str()));
  return value;
}

std::int64_t read_i64_attribute(hid_t obj, const std::string& name, const std::string& file) {
  init();
  Handle attribute = own(H5Aopen(obj, name.c_str(), H5P_DEFAULT), Kind::attribute,
                         "opening attribute " + name, file);
  Handle type = own(H5Aget_type(attribute), Kind::datatype, "reading the type of attribute " + name, file);
  if (H5Tget_class(type) != H5T_INTEGER)
    throw Hdf5Error("reading attribute " + name, file, "it is not an integer");
  std::int64_t value = 0;
  check(H5Aread(attribute, H5T_NATIVE_INT64, &value), "reading attribute " + name, file);
  return value;
}

namespace {
Handle select(hid_t dataset, const std::vector<hsize_t>& start, const std::vector<hsize_t>& count,
              const std::string& what, const std::string& file) {
  Handle space = own(H5Dget_space(dataset), Kind::dataspace, what, file);
  check(H5Sselect_hyperslab(space, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr),
        what + " (selecting the block)", file);
  return space;
}
hsize_t product(const std::vector<hsize_t>& count) {
  hsize_t n = 1;
  for (hsize_t c : count) n *= c;
  return n;
}
}  // namespace

void write_block(hid_t dataset, const std::vector<hsize_t>& start, const std::vector<hsize_t>& count,
                 hid_t mem_type, const void* buffer, hid_t dxpl, const std::string& what,
                 const std::string& file) {
  Handle file_space = select(dataset, start, count, what, file);
  Handle memory_space = simple_space({product(count)});
  check(H5Dwrite(dataset, mem_type, memory_space, file_space, dxpl, buffer), what, file);
}

void read_block(hid_t dataset, const std::vector<hsize_t>& start, const std::vector<hsize_t>& count,
                hid_t mem_type, void* buffer, hid_t dxpl, const std::string& what,
                const std::string& file) {
  Handle file_space = select(dataset, start, count, what, file);
  Handle memory_space = simple_space({product(count)});
  check(H5Dread(dataset, mem_type, memory_space, file_space, dxpl, buffer), what, file);
}

std::string library_version() {
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(release);
}

}  // namespace h5
}  // namespace scorefarm::io
