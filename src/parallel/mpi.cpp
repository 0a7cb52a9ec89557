// RAII over MPI (mpi.hpp).
#include "scorefarm/parallel/mpi.hpp"

#include <cstdlib>

namespace scorefarm::parallel {

namespace {
std::string error_text(int code) {
  char text[MPI_MAX_ERROR_STRING] = {0};
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, static_cast<std::size_t>(length));
}
}  // namespace

MpiError::MpiError(const std::string& operation, int code)
    : std::runtime_error(operation + ": " + error_text(code)), code_(code) {}

void check(int code, const char* operation) {
  if (code != MPI_SUCCESS) throw MpiError(operation, code);
}

MpiSession::MpiSession() : MpiSession(nullptr, nullptr) {}

MpiSession::MpiSession(int* argc, char*** argv) {
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised) {
    if (MPI_Init(argc, argv) != MPI_SUCCESS) throw std::runtime_error("MPI_Init failed");
    owns_ = true;
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

MpiSession::~MpiSession() {
  if (!owns_) return;
  int finalised = 0;
  MPI_Finalized(&finalised);
  if (!finalised) MPI_Finalize();
}

int MpiSession::rank() const { return rank_of(MPI_COMM_WORLD); }
int MpiSession::size() const { return size_of(MPI_COMM_WORLD); }

void MpiSession::abort(int code) const {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

int rank_of(MPI_Comm comm) {
  int rank = 0;
  check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
  return rank;
}

int size_of(MPI_Comm comm) {
  int size = 0;
  check(MPI_Comm_size(comm, &size), "MPI_Comm_size");
  return size;
}

std::string broadcast(MPI_Comm comm, const std::string& text, int root) {
  unsigned long long length = text.size();
  check(MPI_Bcast(&length, 1, MPI_UNSIGNED_LONG_LONG, root, comm), "MPI_Bcast (length)");
  std::string out = rank_of(comm) == root ? text : std::string(length, '\0');
  // Chunks below 2^31 bytes: MPI counts are int.
  constexpr unsigned long long step = 1ull << 30;
  for (unsigned long long at = 0; at < length; at += step) {
    const int count = static_cast<int>(std::min(step, length - at));
    check(MPI_Bcast(out.data() + at, count, MPI_CHAR, root, comm), "MPI_Bcast (text)");
  }
  return out;
}

int broadcast(MPI_Comm comm, int value, int root) {
  check(MPI_Bcast(&value, 1, MPI_INT, root, comm), "MPI_Bcast");
  return value;
}

}  // namespace scorefarm::parallel
