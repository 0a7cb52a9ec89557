#pragma once
// Writes real study files in the documented schema (brief.md, "HDF5 output schema") straight
// through the HDF5 C API, independently of src/aggregate's wrappers, so that the aggregator's
// reader is tested against a separate writer. Used until (and beside) the engine's `scorefarm run`.
#include <hdf5.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace scorefarm::test {

struct SyntheticField {
  std::string name;
  std::size_t length = 1;      // > 1: a series (n_cells, n_trials, length)
  std::vector<double> values;  // n_cells * n_trials * length, row-major
};

struct SyntheticStudy {
  std::string kind = "estimator";
  std::int64_t n_cells = 0;
  std::int64_t n_trials = 0;
  std::uint64_t seed = 7;
  std::string config_hash = "0123456789abcdef";
  std::vector<std::pair<std::string, std::vector<double>>> numeric_axes;
  std::vector<std::pair<std::string, std::vector<std::string>>> text_axes;
  std::vector<SyntheticField> fields;
  std::vector<std::uint32_t> status;  // n_cells * n_trials (0 when empty)
  std::vector<std::uint8_t> done;     // n_cells * n_trials (all 1 when empty)

  double& value(const std::string& field, std::size_t cell, std::size_t trial, std::size_t i = 0) {
    for (auto& f : fields)
      if (f.name == field)
        return f.values.at((cell * static_cast<std::size_t>(n_trials) + trial) * f.length + i);
    throw std::out_of_range("no field " + field);
  }
};

namespace detail {
inline hid_t ok(hid_t id, const char* what) {
  if (id < 0) throw std::runtime_error(std::string("test writer: ") + what);
  return id;
}
inline void ok_status(herr_t s, const char* what) {
  if (s < 0) throw std::runtime_error(std::string("test writer: ") + what);
}
inline hid_t vlen_utf8() {
  hid_t t = ok(H5Tcopy(H5T_C_S1), "H5Tcopy");
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}
inline void string_attr(hid_t obj, const char* name, const std::string& v) {
  hid_t t = vlen_utf8();
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = ok(H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT), name);
  const char* p = v.c_str();
  ok_status(H5Awrite(a, t, &p), name);
  H5Aclose(a);
  H5Sclose(sp);
  H5Tclose(t);
}
template <class T>
inline void scalar_attr(hid_t obj, const char* name, hid_t file_type, hid_t mem_type, T v) {
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = ok(H5Acreate2(obj, name, file_type, sp, H5P_DEFAULT, H5P_DEFAULT), name);
  ok_status(H5Awrite(a, mem_type, &v), name);
  H5Aclose(a);
  H5Sclose(sp);
}
inline void dataset(hid_t loc, const std::string& name, std::vector<hsize_t> dims, hid_t file_type,
                    hid_t mem_type, const void* data) {
  hid_t sp = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  hid_t d = ok(H5Dcreate2(loc, name.c_str(), file_type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
               name.c_str());
  ok_status(H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), name.c_str());
  H5Dclose(d);
  H5Sclose(sp);
}
}  // namespace detail

inline void write_study(const std::string& path, const SyntheticStudy& s) {
  using namespace detail;
  const auto nc = static_cast<hsize_t>(s.n_cells);
  const auto nt = static_cast<hsize_t>(s.n_trials);
  hid_t f = ok(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), "H5Fcreate");
  scalar_attr<std::int64_t>(f, "scorefarm_schema", H5T_STD_I64LE, H5T_NATIVE_INT64, 1);
  string_attr(f, "kind", s.kind);
  string_attr(f, "config_text", "# synthetic study written by tests/aggregate/study_file.hpp\n");
  string_attr(f, "config_overrides", "");
  string_attr(f, "config_effective", "kind: " + s.kind + "\n");
  string_attr(f, "config_hash", s.config_hash);
  string_attr(f, "scorefarm_version", "test");
  string_attr(f, "git_commit", "test");
  string_attr(f, "hdf5_version", "1.10");
  string_attr(f, "mpi_version", "none");
  string_attr(f, "created", "2026-01-01T00:00:00Z");
  scalar_attr<std::int64_t>(f, "n_cells", H5T_STD_I64LE, H5T_NATIVE_INT64, s.n_cells);
  scalar_attr<std::int64_t>(f, "n_trials", H5T_STD_I64LE, H5T_NATIVE_INT64, s.n_trials);
  scalar_attr<std::uint64_t>(f, "seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, s.seed);

  hid_t cells = ok(H5Gcreate2(f, "cells", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "cells");
  std::vector<std::string> axis_names;
  for (const auto& [name, v] : s.text_axes) {
    axis_names.push_back(name);
    std::vector<const char*> p;
    for (auto& t : v) p.push_back(t.c_str());
    hid_t t = vlen_utf8();
    dataset(cells, name, {nc}, t, t, p.data());
    H5Tclose(t);
  }
  for (const auto& [name, v] : s.numeric_axes) {
    axis_names.push_back(name);
    dataset(cells, name, {nc}, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, v.data());
  }
  {
    hid_t t = vlen_utf8();
    hsize_t n = axis_names.size();
    hid_t sp = H5Screate_simple(1, &n, nullptr);
    hid_t a = ok(H5Acreate2(cells, "axes", t, sp, H5P_DEFAULT, H5P_DEFAULT), "axes");
    std::vector<const char*> p;
    for (auto& t2 : axis_names) p.push_back(t2.c_str());
    ok_status(H5Awrite(a, t, p.data()), "axes");
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
  }
  H5Gclose(cells);

  hid_t rec = ok(H5Gcreate2(f, "records", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "records");
  for (const auto& fld : s.fields) {
    std::vector<hsize_t> dims{nc, nt};
    if (fld.length > 1) dims.push_back(fld.length);
    if (fld.values.size() != nc * nt * fld.length) throw std::runtime_error("field size " + fld.name);
    dataset(rec, fld.name, dims, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, fld.values.data());
  }
  std::vector<std::uint32_t> status = s.status;
  status.resize(nc * nt, 0);
  std::vector<std::uint8_t> done = s.done;
  done.resize(nc * nt, 1);
  dataset(rec, "status", {nc, nt}, H5T_STD_U32LE, H5T_NATIVE_UINT32, status.data());
  dataset(rec, "done", {nc, nt}, H5T_STD_U8LE, H5T_NATIVE_UINT8, done.data());
  H5Gclose(rec);
  hid_t runs = ok(H5Gcreate2(f, "runs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "runs");
  H5Gclose(runs);
  H5Fclose(f);
}

}  // namespace scorefarm::test
