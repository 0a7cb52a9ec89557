// scorefarm::io on real files: the HDF5 wrappers' exceptions, the lock file against a real second
// process, the study file's creation and verification, raw record I/O, /runs bookkeeping and the
// redo journal (every stage of a commit snapshotted and recovered).
//
// Runs under mpiexec -n 1: the record store opens files through MPI-IO, so MPI must be initialised
// (parallel::MpiSession, as in tests/mpi/test_farm.cpp). The "second process" of the lock tests is
// this same binary, re-executed with SCOREFARM_TEST_HOLD_LOCK=<output>: before main (and before
// MPI) it takes the real lock of <output>, reports on stdout and waits to be killed.
#define BOOST_TEST_MODULE io
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "hash_runner.hpp"
#include "scorefarm/io/checkpoint_files.hpp"
#include "scorefarm/io/hdf5.hpp"
#include "scorefarm/io/journal.hpp"
#include "scorefarm/io/lock_file.hpp"
#include "scorefarm/io/record_store.hpp"
#include "scorefarm/parallel/mpi.hpp"

extern char** environ;

namespace fs = std::filesystem;
using namespace scorefarm;
using scorefarm::test::HashRunner;

namespace {

// ---- the lock-holding helper process (runs before main when the variable is set) ----
const bool lock_helper = [] {
  const char* output = std::getenv("SCOREFARM_TEST_HOLD_LOCK");
  if (!output || !*output) return false;
  try {
    io::LockFile lock = io::LockFile::acquire(output);
    std::fputs("locked\n", stdout);
    std::fflush(stdout);
    for (;;) ::pause();  // until killed
  } catch (const std::exception& e) {
    std::fprintf(stdout, "failed: %s\n", e.what());
    std::fflush(stdout);
    std::_Exit(3);
  }
}();

struct MpiFixture {
  MpiFixture()
      : session(&boost::unit_test::framework::master_test_suite().argc,
                &boost::unit_test::framework::master_test_suite().argv) {}
  parallel::MpiSession session;
};
BOOST_TEST_GLOBAL_FIXTURE(MpiFixture);

// A fresh, empty folder per test case.
fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("scorefarm_test_io_" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

io::StudyMetadata metadata(const std::string& hash = "0123456789abcdef") {
  return io::StudyMetadata{"estimator", "text: 1\n", {"trials=5"}, "text: 1\n", hash, 7};
}

// Runs `body` with stderr (fd 2) captured; returns what was written to it.
template <class F>
std::string capture_stderr(F body) {
  std::fflush(stderr);
  char name[] = "/tmp/scorefarm_test_io_stderr_XXXXXX";
  const int fd = ::mkstemp(name);
  const int saved = ::dup(2);
  ::dup2(fd, 2);
  try {
    body();
  } catch (...) {
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);
    ::close(fd);
    ::unlink(name);
    throw;
  }
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  ::close(fd);
  const std::string text = read_bytes(name);
  ::unlink(name);
  return text;
}

// Starts this binary as a lock holder of `output`; returns its pid once it holds the lock.
pid_t spawn_lock_holder(const std::string& output) {
  int pipe_fds[2];
  BOOST_REQUIRE(::pipe(pipe_fds) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  std::vector<std::string> env_strings{"SCOREFARM_TEST_HOLD_LOCK=" + output};
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "SCOREFARM_TEST_HOLD_LOCK=", 25) != 0) env_strings.emplace_back(*e);
  std::vector<char*> env;
  for (auto& s : env_strings) env.push_back(s.data());
  env.push_back(nullptr);
  std::string self = fs::read_symlink("/proc/self/exe").string();
  char* argv[] = {self.data(), nullptr};
  pid_t pid = 0;
  const int error = ::posix_spawn(&pid, self.c_str(), &actions, nullptr, argv, env.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  BOOST_REQUIRE_MESSAGE(error == 0, "posix_spawn: " << std::strerror(error));
  std::string line;
  char c = 0;
  while (::read(pipe_fds[0], &c, 1) == 1 && c != '\n') line += c;
  ::close(pipe_fds[0]);
  BOOST_REQUIRE_MESSAGE(line == "locked", "lock holder said: " << line);
  return pid;
}

void kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

// A pid that certainly belonged to a process that has exited.
pid_t dead_pid() {
  pid_t pid = 0;
  char arg0[] = "true";
  char* argv[] = {arg0, nullptr};
  BOOST_REQUIRE(::posix_spawnp(&pid, "true", nullptr, nullptr, argv, environ) == 0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return pid;
}

std::string outcome_of_run(const std::string& path, int run) {
  io::h5::Handle fapl = io::h5::file_access_serial();
  io::h5::Handle file = io::h5::open_file(path, H5F_ACC_RDONLY, fapl);
  io::h5::Handle group = io::h5::open_group(file, "runs/" + std::to_string(run), path);
  return io::h5::read_string_attribute(group, "outcome", path);
}

}  // namespace

// =============================================================== HDF5 wrappers

BOOST_AUTO_TEST_SUITE(hdf5_wrappers)

BOOST_AUTO_TEST_CASE(opening_a_missing_file_throws_naming_the_file) {
  const fs::path dir = fresh_dir("missing");
  const std::string path = (dir / "nope.h5").string();
  io::h5::Handle fapl = io::h5::file_access_serial();
  std::string printed;
  bool thrown = false;
  printed = capture_stderr([&] {
    try {
      io::h5::open_file(path, H5F_ACC_RDONLY, fapl);
    } catch (const io::Hdf5Error& e) {
      thrown = true;
      BOOST_TEST(e.file() == path);
      BOOST_TEST(e.operation() == "opening the HDF5 file");
      BOOST_TEST(contains(e.what(), "opening the HDF5 file in " + path + ": "), e.what());
      BOOST_TEST(!e.stack().empty());
      BOOST_TEST(contains(e.stack(), "H5Fopen"), e.stack());
    }
  });
  BOOST_TEST(thrown);
  // HDF5's own error printing is off: the exception is the only report.
  BOOST_TEST(printed == "", printed);
  // The stack was consumed: nothing is left for the next error.
  BOOST_TEST(io::h5::take_error_stack() == "");
}

BOOST_AUTO_TEST_CASE(a_file_that_is_not_hdf5) {
  const fs::path dir = fresh_dir("not_hdf5");
  const std::string path = (dir / "text.h5").string();
  write_bytes(path, "this is not an HDF5 file\n");
  BOOST_TEST(!io::h5::is_hdf5(path));
  BOOST_TEST(!io::h5::is_hdf5((dir / "absent.h5").string()));
  BOOST_TEST(!io::h5::is_hdf5(dir.string()));  // a folder
  io::h5::Handle fapl = io::h5::file_access_serial();
  try {
    io::h5::open_file(path, H5F_ACC_RDONLY, fapl);
    BOOST_FAIL("opened a text file as HDF5");
  } catch (const io::Hdf5Error& e) {
    BOOST_TEST(contains(e.what(), path), e.what());
    BOOST_TEST(contains(e.stack(), "signature"), e.stack());
  }
}

BOOST_AUTO_TEST_CASE(missing_objects_and_wrong_types_throw_naming_object_and_file) {
  const fs::path dir = fresh_dir("objects");
  const std::string path = (dir / "f.h5").string();
  {
    io::h5::Handle fcpl = io::h5::plist(H5P_FILE_CREATE);
    io::h5::Handle fapl = io::h5::file_access_serial();
    io::h5::Handle file = io::h5::create_file(path, H5F_ACC_EXCL, fcpl, fapl);
    io::h5::write_attribute(file, "text", "hello", path);
    io::h5::write_attribute_i64(file, "number", -42, path);
    io::h5::write_attribute(file, "text", "replaced", path);  // replaced, not appended
    io::h5::write_attribute(file, "list", std::vector<std::string>{"a", "b"}, path);
    io::h5::create_group(file, "group", path);
    file.close("closing", path);
  }
  // Creating it again with EXCL fails and names the file.
  try {
    io::h5::Handle fcpl = io::h5::plist(H5P_FILE_CREATE);
    io::h5::Handle fapl = io::h5::file_access_serial();
    io::h5::create_file(path, H5F_ACC_EXCL, fcpl, fapl);
    BOOST_FAIL("H5F_ACC_EXCL created over an existing file");
  } catch (const io::Hdf5Error& e) {
    BOOST_TEST(contains(e.what(), "creating the HDF5 file in " + path), e.what());
  }
  io::h5::Handle fapl = io::h5::file_access_serial();
  io::h5::Handle file = io::h5::open_file(path, H5F_ACC_RDONLY, fapl);
  BOOST_TEST(io::h5::read_string_attribute(file, "text", path) == "replaced");
  BOOST_TEST(io::h5::read_i64_attribute(file, "number", path) == -42);
  BOOST_TEST(io::h5::attribute_exists(file, "list", path));
  BOOST_TEST(!io::h5::attribute_exists(file, "absent", path));
  BOOST_TEST(io::h5::link_exists(file, "group", path));
  BOOST_TEST(!io::h5::link_exists(file, "nothing", path));
  BOOST_TEST((io::h5::child_names(file, path) == std::vector<std::string>{"group"}));

  auto expect = [&](auto call, const std::string& operation) {
    try {
      call();
      BOOST_ERROR("no exception for " << operation);
    } catch (const io::Hdf5Error& e) {
      BOOST_TEST(e.file() == path);
      BOOST_TEST(contains(e.what(), operation + " in " + path), e.what());
    }
  };
  expect([&] { io::h5::open_dataset(file, "records/done", path); }, "opening dataset records/done");
  expect([&] { io::h5::open_group(file, "runs", path); }, "opening group runs");
  expect([&] { io::h5::read_string_attribute(file, "absent", path); }, "opening attribute absent");
  expect([&] { io::h5::read_i64_attribute(file, "text", path); }, "reading attribute text");
  expect([&] { io::h5::read_string_attribute(file, "number", path); }, "reading attribute number");
  expect([&] { io::h5::read_string_attribute(file, "list", path); }, "reading attribute list");
  // A read-only file refuses writes, with HDF5's reason in the message.
  expect([&] { io::h5::write_attribute(file, "text", "x", path); }, "replacing attribute text");
}

BOOST_AUTO_TEST_CASE(handles_own_exactly_once) {
  io::h5::Handle a = io::h5::scalar_space();
  const hid_t id = a.get();
  BOOST_TEST(a.valid());
  io::h5::Handle b = std::move(a);
  BOOST_TEST(!a.valid());
  BOOST_TEST(b.get() == id);
  BOOST_TEST(H5Iis_valid(id) > 0);
  io::h5::Handle c;
  c = std::move(b);
  BOOST_TEST(H5Iis_valid(id) > 0);
  c.reset();
  BOOST_TEST(!c.valid());
  BOOST_TEST(H5Iis_valid(id) <= 0);
  H5Eclear2(H5E_DEFAULT);
  c.close("closing nothing");  // an empty handle: no-op
  BOOST_CHECK_THROW(io::h5::own(-1, io::h5::Kind::plist, "making nothing"), io::Hdf5Error);
}

BOOST_AUTO_TEST_SUITE_END()

// =============================================================== lock file

BOOST_AUTO_TEST_SUITE(lock_file)

BOOST_AUTO_TEST_CASE(a_live_holder_in_another_process_is_refused_by_host_and_pid_then_taken_over_when_killed) {
  const fs::path dir = fresh_dir("lock_live");
  const std::string output = (dir / "out.h5").string();
  const pid_t holder = spawn_lock_holder(output);
  const std::string expected = "host " + io::host_name() + ", pid " + std::to_string(holder);
  try {
    io::LockFile::acquire(output);
    BOOST_ERROR("took a lock held by a live process");
  } catch (const io::LockHeld& e) {
    BOOST_TEST(contains(e.what(), output + " is being written by " + expected), e.what());
    BOOST_TEST(contains(e.what(), io::lock_path(output)), e.what());
  }
  BOOST_TEST(read_bytes(io::lock_path(output)) == io::host_name() + " " + std::to_string(holder) + "\n");

  kill_and_reap(holder);  // kill -9: no release, the lock file stays with the dead holder's pid
  BOOST_TEST(fs::exists(io::lock_path(output)));
  std::string note;
  io::LockFile lock = io::LockFile::acquire(output, &note);
  BOOST_TEST(lock.held());
  BOOST_TEST(contains(note, "took over the stale lock " + io::lock_path(output)), note);
  BOOST_TEST(contains(note, expected), note);
  BOOST_TEST(read_bytes(io::lock_path(output)) == io::host_name() + " " + std::to_string(::getpid()) + "\n");
  lock.release();
  BOOST_TEST(!lock.held());
  BOOST_TEST(!fs::exists(io::lock_path(output)));  // released: the file is gone
}

BOOST_AUTO_TEST_CASE(a_second_acquire_while_held_is_refused_and_release_frees_it) {
  const fs::path dir = fresh_dir("lock_twice");
  const std::string output = (dir / "out.h5").string();
  std::string note = "stale";
  io::LockFile first = io::LockFile::acquire(output, &note);
  BOOST_TEST(note == "");  // a fresh lock: nothing taken over
  BOOST_TEST(first.path() == io::lock_path(output));
  try {
    io::LockFile::acquire(output);
    BOOST_ERROR("a second acquire succeeded");
  } catch (const io::LockHeld& e) {
    BOOST_TEST(contains(e.what(), "host " + io::host_name() + ", pid " + std::to_string(::getpid())), e.what());
  }
  // Moving the lock keeps it held; the moved-from object releases nothing.
  io::LockFile moved = std::move(first);
  BOOST_TEST(moved.held());
  BOOST_TEST(!first.held());
  first.release();
  BOOST_CHECK_THROW(io::LockFile::acquire(output), io::LockHeld);
  moved.refresh();
  moved.release();
  io::LockFile again = io::LockFile::acquire(output, &note);
  BOOST_TEST(again.held());
  BOOST_TEST(note == "");  // released properly: nothing stale
}

BOOST_AUTO_TEST_CASE(a_lock_file_naming_a_dead_pid_is_taken_over) {
  const fs::path dir = fresh_dir("lock_dead");
  const std::string output = (dir / "out.h5").string();
  const pid_t dead = dead_pid();
  write_bytes(io::lock_path(output), io::host_name() + " " + std::to_string(dead) + "\n");
  std::string note;
  io::LockFile lock = io::LockFile::acquire(output, &note);
  BOOST_TEST(lock.held());
  BOOST_TEST(contains(note, "took over the stale lock"), note);
  BOOST_TEST(contains(note, "pid " + std::to_string(dead)), note);
  lock.release();
  // One left by another host (a lost node): nobody holds its flock, so it is stale too.
  write_bytes(io::lock_path(output), "some-other-node 12345\n");
  lock = io::LockFile::acquire(output, &note);
  BOOST_TEST(contains(note, "host some-other-node, pid 12345"), note);
  // Garbage content: taken, without a note about a holder.
  lock.release();
  write_bytes(io::lock_path(output), "\x01\x02 not a holder");
  lock = io::LockFile::acquire(output, &note);
  BOOST_TEST(lock.held());
  BOOST_TEST(note == "");
}

BOOST_AUTO_TEST_CASE(an_impossible_lock_file_is_a_clear_error) {
  const fs::path dir = fresh_dir("lock_nofolder");
  const std::string output = (dir / "no_such_folder" / "out.h5").string();
  try {
    io::LockFile::acquire(output);
    BOOST_ERROR("a lock in a missing folder");
  } catch (const io::LockHeld&) {
    BOOST_ERROR("LockHeld for a missing folder");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(contains(e.what(), "cannot create the lock file " + io::lock_path(output)), e.what());
  }
}

BOOST_AUTO_TEST_SUITE_END()

// =============================================================== the study file

BOOST_AUTO_TEST_SUITE(study_file)

BOOST_AUTO_TEST_CASE(create_lays_out_everything_and_verify_accepts_it) {
  const fs::path dir = fresh_dir("create");
  const std::string path = (dir / "study.h5").string();
  HashRunner runner(3, 50, 4);
  io::create_study_file(path, runner, metadata());
  BOOST_TEST(!fs::exists(io::creating_path(path)));
  BOOST_CHECK_NO_THROW(io::verify_study_file(path, runner, metadata()));
  BOOST_TEST(io::count_done(path) == 0u);

  io::h5::Handle fapl = io::h5::file_access_serial();
  io::h5::Handle file = io::h5::open_file(path, H5F_ACC_RDONLY, fapl);
  BOOST_TEST(io::h5::read_i64_attribute(file, "scorefarm_schema", path) == io::schema_version);
  BOOST_TEST(io::h5::read_string_attribute(file, "config_hash", path) == "0123456789abcdef");
  BOOST_TEST(io::h5::read_string_attribute(file, "config_overrides", path) == "trials=5");
  BOOST_TEST(io::h5::read_i64_attribute(file, "n_cells", path) == 3);
  BOOST_TEST(io::h5::read_i64_attribute(file, "n_trials", path) == 50);
  for (const char* name : {"h", "err_S1", "status", "done"}) {
    io::h5::Handle set = io::h5::open_dataset(file, std::string("records/") + name, path);
    BOOST_TEST((io::h5::dataset_dims(set, path) == std::vector<hsize_t>{3, 50}), name);
    io::h5::Handle dcpl(H5Dget_create_plist(set), io::h5::Kind::plist);
    BOOST_TEST(H5Pget_layout(dcpl) == H5D_CONTIGUOUS, name);
    H5D_space_status_t allocated{};
    H5Dget_space_status(set, &allocated);
    BOOST_TEST(allocated == H5D_SPACE_STATUS_ALLOCATED, name);
  }
  io::h5::Handle series = io::h5::open_dataset(file, "records/series", path);
  BOOST_TEST((io::h5::dataset_dims(series, path) == std::vector<hsize_t>{3, 50, 4}));
  // Fill values: NaN data, done 0.
  io::h5::Handle h = io::h5::open_dataset(file, "records/h", path);
  std::vector<double> values(150);
  io::h5::check(H5Dread(h, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), "read", path);
  for (double v : values) BOOST_TEST(std::isnan(v));
  io::h5::Handle cells = io::h5::open_group(file, "cells", path);
  BOOST_TEST((io::h5::child_names(cells, path) == std::vector<std::string>{"distribution", "n"}));
}

BOOST_AUTO_TEST_CASE(creating_over_an_existing_file_is_refused_and_leaves_it) {
  const fs::path dir = fresh_dir("create_twice");
  const std::string path = (dir / "study.h5").string();
  write_bytes(path, "precious");
  HashRunner runner(2, 10, 1);
  BOOST_CHECK_THROW(io::create_study_file(path, runner, metadata()), std::runtime_error);
  BOOST_TEST(read_bytes(path) == "precious");
  BOOST_TEST(!fs::exists(io::creating_path(path)));
}

BOOST_AUTO_TEST_CASE(another_studys_file_is_refused_and_untouched) {
  const fs::path dir = fresh_dir("verify");
  const std::string path = (dir / "study.h5").string();
  HashRunner runner(3, 50, 1);
  io::create_study_file(path, runner, metadata());
  const std::string before = read_bytes(path);
  const auto mtime = fs::last_write_time(path);
  using Reason = io::StoreRefused::Reason;
  auto refused = [&](const TrialRunner& r, const io::StudyMetadata& m, Reason reason,
                     const std::string& needle) {
    try {
      io::verify_study_file(path, r, m);
      BOOST_ERROR("accepted: " << needle);
    } catch (const io::StoreRefused& e) {
      BOOST_TEST(static_cast<int>(e.reason()) == static_cast<int>(reason), e.what());
      BOOST_TEST(contains(e.what(), path), e.what());
      BOOST_TEST(contains(e.what(), needle), e.what());
      BOOST_TEST(contains(e.what(), "The file was not modified."), e.what());
    }
    BOOST_TEST(read_bytes(path) == before);
    BOOST_TEST((fs::last_write_time(path) == mtime));
  };
  refused(runner, metadata("fedcba9876543210"), Reason::other_config,
          "config_hash 0123456789abcdef in the file, fedcba9876543210 for this config");
  // Same hash, other layout (a bug or another version): refused as a layout mismatch.
  refused(HashRunner(3, 51, 1), metadata(), Reason::layout, "3 cells x 50 trials, the config 3 x 51");
  refused(HashRunner(3, 50, 2), metadata(), Reason::layout, "/records/series is missing");
  BOOST_CHECK_NO_THROW(io::verify_study_file(path, runner, metadata()));
  BOOST_TEST(read_bytes(path) == before);
}

BOOST_AUTO_TEST_CASE(files_that_are_not_studies_are_refused_untouched) {
  const fs::path dir = fresh_dir("not_study");
  HashRunner runner(2, 10, 1);
  using Reason = io::StoreRefused::Reason;
  auto reason_of = [&](const std::string& path) {
    const std::string before = fs::is_regular_file(path) ? read_bytes(path) : "";
    try {
      io::verify_study_file(path, runner, metadata());
    } catch (const io::StoreRefused& e) {
      BOOST_TEST(contains(e.what(), path), e.what());
      if (fs::is_regular_file(path)) BOOST_TEST(read_bytes(path) == before);
      return static_cast<int>(e.reason());
    }
    return -1;
  };
  const std::string text = (dir / "text.h5").string();
  write_bytes(text, "not hdf5 at all");
  BOOST_TEST(reason_of(text) == static_cast<int>(Reason::not_hdf5));
  fs::create_directories(dir / "folder.h5");
  BOOST_TEST(reason_of((dir / "folder.h5").string()) == static_cast<int>(Reason::not_hdf5));

  const std::string plain = (dir / "plain.h5").string();
  {
    io::h5::Handle fcpl = io::h5::plist(H5P_FILE_CREATE);
    io::h5::Handle fapl = io::h5::file_access_serial();
    io::h5::Handle file = io::h5::create_file(plain, H5F_ACC_EXCL, fcpl, fapl);
    io::h5::write_attribute(file, "something", "else", plain);
  }
  BOOST_TEST(reason_of(plain) == static_cast<int>(Reason::not_a_study));

  // A study file cut short (a copy that did not finish): damaged, never a crash.
  const std::string whole = (dir / "whole.h5").string();
  io::create_study_file(whole, runner, metadata());
  const std::string bytes = read_bytes(whole);
  const std::string cut = (dir / "cut.h5").string();
  write_bytes(cut, bytes.substr(0, bytes.size() / 3));
  BOOST_TEST(reason_of(cut) == static_cast<int>(Reason::damaged));
}

BOOST_AUTO_TEST_CASE(prepare_output_removes_a_half_built_file) {
  const fs::path dir = fresh_dir("prepare");
  const std::string path = (dir / "study.h5").string();
  BOOST_TEST(io::prepare_output(path).empty());
  write_bytes(io::creating_path(path), "half");
  const std::vector<std::string> notes = io::prepare_output(path);
  BOOST_TEST(notes.size() == 1u);
  BOOST_TEST(contains(notes.at(0), "removed " + io::creating_path(path)));
  BOOST_TEST(!fs::exists(io::creating_path(path)));
}

BOOST_AUTO_TEST_SUITE_END()

// =============================================================== records and runs

BOOST_AUTO_TEST_SUITE(records)

BOOST_AUTO_TEST_CASE(records_round_trip_bit_for_bit_and_done_comes_after_data) {
  const fs::path dir = fresh_dir("records");
  const std::string path = (dir / "study.h5").string();
  HashRunner runner(3, 40, 3);
  io::create_study_file(path, runner, metadata());
  io::StoreOptions options;
  std::vector<std::vector<std::uint8_t>> done_at_data_stage;
  io::RecordStore* self = nullptr;
  options.after_stage = [&](const char* stage) {
    if (std::string(stage) == "data" && self) done_at_data_stage.push_back(self->read_done());
  };
  io::RecordStore store = io::RecordStore::open(path, runner, MPI_COMM_WORLD, options);
  self = &store;
  BOOST_TEST(store.cell_count() == 3u);
  BOOST_TEST(store.trials_per_cell() == 40u);

  // A chunk spanning two cells, then one segment, then an empty segment.
  const std::vector<io::Segment> chunk{{0, 35, 5}, {1, 0, 7}};
  std::vector<Record> records;
  for (const auto& s : chunk)
    for (std::uint64_t t = 0; t < s.count; ++t) records.push_back(runner.run(s.cell, s.first + t));
  store.write(chunk, records);
  store.write({{2, 10, 1}}, {runner.run(2, 10)});
  store.write({{2, 11, 0}}, {});

  BOOST_TEST(done_at_data_stage.size() == 3u);  // the empty write goes through the stages too
  if (done_at_data_stage.size() >= 2u) {
    BOOST_TEST(done_at_data_stage[0][0 * 40 + 35] == 0);  // data written, flags not yet
    BOOST_TEST(done_at_data_stage[0][1 * 40 + 0] == 0);
    BOOST_TEST(done_at_data_stage[1][0 * 40 + 35] == 1);  // the first chunk's flags are in
  }
  const std::vector<std::uint8_t> done = store.read_done();
  std::size_t count = 0;
  for (std::size_t cell = 0; cell < 3; ++cell)
    for (std::uint64_t t = 0; t < 40; ++t) {
      const bool expected = (cell == 0 && t >= 35) || (cell == 1 && t < 7) || (cell == 2 && t == 10);
      BOOST_TEST(done[cell * 40 + t] == (expected ? 1 : 0));
      count += done[cell * 40 + t];
    }
  BOOST_TEST(count == 13u);
  for (std::size_t cell = 0; cell < 3; ++cell) {
    const std::vector<Record> back = store.read({cell, 0, 40});
    for (std::uint64_t t = 0; t < 40; ++t) {
      if (done[cell * 40 + t] != 1) {
        BOOST_TEST(std::isnan(back[t].values[0]));  // fill value
        BOOST_TEST(back[t].status == 0u);
        continue;
      }
      const Record expected = runner.run(cell, t);
      BOOST_TEST(back[t].status == expected.status);
      BOOST_TEST(std::memcmp(back[t].values.data(), expected.values.data(),
                             expected.values.size() * sizeof(double)) == 0);
    }
  }

  // Wrong shapes are refused before anything is written.
  BOOST_CHECK_THROW(store.write({{3, 0, 1}}, {runner.run(0, 0)}), std::out_of_range);
  BOOST_CHECK_THROW(store.write({{0, 39, 2}}, {runner.run(0, 0), runner.run(0, 0)}), std::out_of_range);
  BOOST_CHECK_THROW(store.write({{0, 0, 2}}, {runner.run(0, 0)}), std::invalid_argument);
  Record short_record;
  short_record.values = {1.0};
  BOOST_CHECK_THROW(store.write({{0, 0, 1}}, {short_record}), std::invalid_argument);
  BOOST_TEST(store.read_done() == done);
  store.close();
  BOOST_TEST(io::count_done(path) == 13u);

  // A resumed store sees the same flags and records.
  io::RecordStore again = io::RecordStore::open(path, runner, MPI_COMM_WORLD);
  BOOST_TEST(again.read_done() == done);
  again.close();
}

BOOST_AUTO_TEST_CASE(runs_are_appended_and_killed_runs_marked) {
  const fs::path dir = fresh_dir("runs");
  const std::string path = (dir / "study.h5").string();
  HashRunner runner(2, 10, 1);
  io::create_study_file(path, runner, metadata());
  BOOST_TEST(io::begin_run(path, 4, 0) == 0);
  BOOST_TEST(outcome_of_run(path, 0) == "running");
  // Run 0 never ended (killed): the next begin_run marks it.
  BOOST_TEST(io::begin_run(path, 2, 5) == 1);
  BOOST_TEST(outcome_of_run(path, 0) == "killed");
  BOOST_TEST(outcome_of_run(path, 1) == "running");
  io::end_run(path, 1, 15, "complete");
  BOOST_TEST(outcome_of_run(path, 1) == "complete");
  {
    io::h5::Handle fapl = io::h5::file_access_serial();
    io::h5::Handle file = io::h5::open_file(path, H5F_ACC_RDONLY, fapl);
    io::h5::Handle run = io::h5::open_group(file, "runs/1", path);
    BOOST_TEST(io::h5::read_i64_attribute(run, "ranks", path) == 2);
    BOOST_TEST(io::h5::read_i64_attribute(run, "trials_done_before", path) == 5);
    BOOST_TEST(io::h5::read_i64_attribute(run, "trials_completed", path) == 15);
    BOOST_TEST(io::h5::read_string_attribute(run, "ended", path) != "");
    BOOST_TEST(io::h5::read_string_attribute(run, "host", path) == io::host_name());
  }
  // The records are untouched by /runs bookkeeping, and the study still verifies.
  BOOST_TEST(io::count_done(path) == 0u);
  BOOST_CHECK_NO_THROW(io::verify_study_file(path, runner, metadata()));
  BOOST_CHECK_THROW(io::end_run(path, 7, 0, "complete"), io::Hdf5Error);  // no such run
}

BOOST_AUTO_TEST_CASE(errors_on_rank_0_reach_every_rank_with_their_kind) {
  using Reason = io::StoreRefused::Reason;
  try {
    io::on_root_then_share(MPI_COMM_WORLD, [] { throw io::StoreRefused(Reason::other_config, "other"); });
    BOOST_ERROR("no exception");
  } catch (const io::StoreRefused& e) {
    BOOST_TEST(static_cast<int>(e.reason()) == static_cast<int>(Reason::other_config));
    BOOST_TEST(std::string(e.what()) == "other");
  }
  BOOST_CHECK_THROW(io::on_root_then_share(MPI_COMM_WORLD, [] { throw io::LockHeld("held"); }), io::LockHeld);
  BOOST_CHECK_THROW(io::on_root_then_share(MPI_COMM_WORLD, [] { throw std::runtime_error("x"); }),
                    std::runtime_error);
  BOOST_CHECK_NO_THROW(io::on_root_then_share(MPI_COMM_WORLD, [] {}));
}

BOOST_AUTO_TEST_SUITE_END()

// =============================================================== the journal

namespace {
// Snapshots of the study file and its journal at each stage of a commit (the state a kill -9 at
// that instant would leave on disk).
std::string journal_test_path;
std::map<std::string, std::pair<std::string, std::string>> snapshots;  // stage -> (file, journal)
void snapshot(const char* stage) {
  const std::string journal = io::journal_path(journal_test_path);
  snapshots[stage] = {read_bytes(journal_test_path), fs::exists(journal) ? read_bytes(journal) : ""};
}
}  // namespace

BOOST_AUTO_TEST_SUITE(journal)

BOOST_AUTO_TEST_CASE(an_uncommitted_update_leaves_the_file_as_it_was) {
  const fs::path dir = fresh_dir("journal_drop");
  const std::string path = (dir / "study.h5").string();
  HashRunner runner(2, 10, 1);
  io::create_study_file(path, runner, metadata());
  const std::string before = read_bytes(path);
  {
    io::JournaledFile file(path);
    io::h5::Handle runs = io::h5::open_group(file.id(), "runs", path);
    io::h5::create_group(runs, "0", path);
    io::h5::write_attribute(runs, "note", "dropped", path);
  }  // no commit
  BOOST_TEST(read_bytes(path) == before);
  BOOST_TEST(!fs::exists(io::journal_path(path)));
  BOOST_TEST(io::recover_journal(path) == "");
}

BOOST_AUTO_TEST_CASE(a_commit_killed_at_any_stage_recovers_to_before_or_after) {
  const fs::path dir = fresh_dir("journal_stages");
  const std::string path = (dir / "study.h5").string();
  HashRunner runner(2, 10, 1);
  io::create_study_file(path, runner, metadata());
  const std::string before = read_bytes(path);

  journal_test_path = path;
  snapshots.clear();
  io::testing::set_commit_hook(snapshot);
  {
    io::JournaledFile file(path);
    io::h5::Handle runs = io::h5::open_group(file.id(), "runs", path);
    for (int k = 0; k < 20; ++k) {  // enough metadata to move the end of the file
      io::h5::Handle run = io::h5::create_group(runs, std::to_string(k), path);
      io::h5::write_attribute(run, "outcome", std::string(200, 'x') + std::to_string(k), path);
    }
    runs.reset();
    file.commit();
  }
  io::testing::set_commit_hook(nullptr);
  const std::string after = read_bytes(path);
  BOOST_TEST(after != before);
  BOOST_TEST(!fs::exists(io::journal_path(path)));
  BOOST_TEST(snapshots.count("journal-written") == 1u);
  BOOST_TEST(snapshots.count("applied") == 1u);
  BOOST_TEST(snapshots["journal-written"].first == before);  // the file untouched until the journal is whole
  BOOST_TEST(snapshots["applied"].first == after);

  // Replay what a kill at each stage would have left.
  const std::string copy = (dir / "copy.h5").string();
  auto restore = [&](const std::string& file, const std::string& journal) {
    write_bytes(copy, file);
    fs::remove(io::journal_path(copy));
    if (!journal.empty()) write_bytes(io::journal_path(copy), journal);
  };
  for (const char* stage : {"journal-written", "applied"}) {
    restore(snapshots[stage].first, snapshots[stage].second);
    const std::string message = io::recover_journal(copy);
    BOOST_TEST(contains(message, "completed an interrupted metadata update of " + copy), message);
    BOOST_TEST(read_bytes(copy) == after, stage);
    BOOST_TEST(!fs::exists(io::journal_path(copy)));
  }
  // Killed half way through applying: the journal redoes it.
  {
    const std::string& journal = snapshots["journal-written"].second;
    std::string half = before;
    half.resize(std::max(before.size(), after.size()));
    for (std::size_t i = 0; i < half.size() / 2 && i < after.size(); ++i) half[i] = after[i];
    restore(half, journal);
    io::recover_journal(copy);
    BOOST_TEST(read_bytes(copy) == after);
  }
  // Killed while writing the journal: a torn journal is discarded, the file stays as before.
  for (double fraction : {0.0, 0.3, 0.99}) {
    const std::string& journal = snapshots["journal-written"].second;
    const std::string torn = journal.substr(0, static_cast<std::size_t>(fraction * journal.size()));
    restore(before, torn.empty() ? std::string("J") : torn);
    const std::string message = io::recover_journal(copy);
    BOOST_TEST(contains(message, "discarded the incomplete journal"), message);
    BOOST_TEST(read_bytes(copy) == before);
    BOOST_TEST(!fs::exists(io::journal_path(copy)));
  }
  // A flipped byte in a complete journal: its checksum fails, discarded.
  {
    std::string journal = snapshots["journal-written"].second;
    journal[journal.size() / 2] ^= 0x40;
    restore(before, journal);
    BOOST_TEST(contains(io::recover_journal(copy), "discarded"));
    BOOST_TEST(read_bytes(copy) == before);
  }
  // The recovered file is a valid study file with the committed runs.
  restore(snapshots["journal-written"].first, snapshots["journal-written"].second);
  io::JournaledFile reopened(copy);  // recovers first
  io::h5::Handle runs = io::h5::open_group(reopened.id(), "runs", copy);
  BOOST_TEST(io::h5::child_names(runs, copy).size() == 20u);
}

BOOST_AUTO_TEST_SUITE_END()

// Clean up this process's folder (the last test case, in declaration order).
BOOST_AUTO_TEST_CASE(zz_cleanup) {
  fs::remove_all(fs::temp_directory_path() / ("scorefarm_test_io_" + std::to_string(::getpid())));
  BOOST_TEST(true);
}

// ---- mid-trial checkpoint files ----

namespace {
std::vector<unsigned char> bytes_of(const std::string& text) { return {text.begin(), text.end()}; }
}  // namespace

BOOST_AUTO_TEST_CASE(checkpoints_round_trip_and_bad_ones_are_ignored_with_a_note) {
  const std::string study = fresh_dir("checkpoints").string() + "/study.h5";
  const io::CheckpointFiles files(study, "0123456789abcdef");
  BOOST_TEST(files.folder() == study + ".checkpoints");
  std::string note;
  BOOST_TEST(!files.load(0, 0, &note).has_value());  // nothing saved: no note either
  BOOST_TEST(note.empty());
  BOOST_TEST(files.count() == 0u);

  std::vector<unsigned char> state = bytes_of("state of cell 2, trial 17");
  state.push_back(0);  // binary payloads are fine
  files.save(2, 17, state);
  files.save(2, 18, bytes_of("another"));
  BOOST_TEST(files.count() == 2u);
  BOOST_TEST(*files.load(2, 17) == state);
  files.save(2, 17, bytes_of("newer"));  // replaces
  BOOST_TEST(*files.load(2, 17) == bytes_of("newer"));
  BOOST_TEST(!files.load(17, 2).has_value());

  // Another study's checkpoint at the same place is ignored, with a note naming the file.
  const io::CheckpointFiles other(study, "fedcba9876543210");
  BOOST_TEST(!other.load(2, 17, &note).has_value());
  BOOST_TEST(note.find(files.path(2, 17)) != std::string::npos);
  BOOST_TEST(note.find("another study") != std::string::npos);

  // A truncated file, a flipped payload byte, a file of another trial: ignored with a note.
  const std::string whole = read_bytes(files.path(2, 17));
  {
    std::ofstream(files.path(2, 17), std::ios::binary | std::ios::trunc) << whole.substr(0, whole.size() - 2);
    note.clear();
    BOOST_TEST(!files.load(2, 17, &note).has_value());
    BOOST_TEST(note.find("truncated") != std::string::npos);
  }
  {
    std::string flipped = whole;
    flipped.back() ^= 0x10;
    std::ofstream(files.path(2, 17), std::ios::binary | std::ios::trunc) << flipped;
    note.clear();
    BOOST_TEST(!files.load(2, 17, &note).has_value());
    BOOST_TEST(note.find("checksum") != std::string::npos);
  }
  {
    fs::copy_file(files.path(2, 18), files.path(2, 17), fs::copy_options::overwrite_existing);
    note.clear();
    BOOST_TEST(!files.load(2, 17, &note).has_value());
    BOOST_TEST(note.find("another trial") != std::string::npos);
  }
  {
    std::ofstream(files.path(2, 17), std::ios::binary | std::ios::trunc) << "not a checkpoint at all";
    note.clear();
    BOOST_TEST(!files.load(2, 17, &note).has_value());
    BOOST_TEST(note.find("not a scorefarm checkpoint") != std::string::npos);
  }

  files.remove(2, 18);
  BOOST_TEST(!files.load(2, 18).has_value());
  files.remove(2, 18);  // twice: no error
  // A temporary file left by a killed save does not count, and remove_all clears it too.
  std::ofstream(files.path(3, 3) + ".tmp.host.123") << "half";
  BOOST_TEST(files.count() == 1u);
  BOOST_TEST(files.remove_all());
  BOOST_TEST(!fs::exists(files.folder()));
  BOOST_TEST(files.remove_all());  // nothing left: still fine
  BOOST_CHECK_THROW(io::CheckpointFiles(study, "short"), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(a_checkpoint_folder_that_cannot_be_made_is_a_clear_error) {
  // Root ignores permission bits, so block the folder another way: a file of that name.
  const io::CheckpointFiles blocked(fresh_dir("checkpoints_blocked").string() + "/x.h5", "0123456789abcdef");
  std::ofstream(blocked.folder()) << "a file, not a folder";
  try {
    blocked.save(0, 1, bytes_of("state"));
    BOOST_FAIL("save into a non-folder did not throw");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()).find(blocked.folder()) != std::string::npos);
  }
  BOOST_TEST(!blocked.load(0, 1).has_value());
}
