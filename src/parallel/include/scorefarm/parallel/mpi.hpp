#pragma once
// RAII over MPI: the Init/Finalize guard, error codes turned into exceptions, and the few
// collective helpers the driver needs (broadcast of a string, agreement on an outcome).
#include <mpi.h>

#include <stdexcept>
#include <string>

namespace scorefarm::parallel {

// An MPI call failed. what() = "<operation>: <MPI_Error_string>".
class MpiError : public std::runtime_error {
 public:
  MpiError(const std::string& operation, int code);
  int code() const { return code_; }

 private:
  int code_;
};

// Throws MpiError when code != MPI_SUCCESS.
void check(int code, const char* operation);

// MPI_Init in the constructor (unless MPI is already initialised, e.g. by a test fixture),
// MPI_Finalize in the destructor (only if this guard initialised MPI). Errors on MPI_COMM_WORLD
// return codes instead of aborting, so that check() can report them.
class MpiSession {
 public:
  MpiSession();
  MpiSession(int* argc, char*** argv);
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  ~MpiSession();

  MPI_Comm world() const { return MPI_COMM_WORLD; }
  int rank() const;
  int size() const;
  // Ends the whole job at once (every rank, through mpirun): for a failure that the ranks cannot
  // agree on collectively. Records already written are safe (see io/record_store.hpp).
  [[noreturn]] void abort(int code) const;

 private:
  bool owns_ = false;
};

int rank_of(MPI_Comm comm);
int size_of(MPI_Comm comm);

// Rank `root`'s `text` on every rank of `comm`. Collective.
std::string broadcast(MPI_Comm comm, const std::string& text, int root = 0);
// Rank `root`'s `value` on every rank. Collective.
int broadcast(MPI_Comm comm, int value, int root = 0);

}  // namespace scorefarm::parallel
