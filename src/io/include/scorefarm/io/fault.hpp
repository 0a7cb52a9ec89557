#pragma once
// Fault injection for the reliability tests (tests/reliability/test_faults.py): a real kill -9 at an
// exact point of the io and parallel code, in a real process, with no test-only code path.
//
//   SCOREFARM_FAULT_AT=<point>:<count>[:<rank>[:<action>]]
//
// When this process reaches fault_point(<point>) for the <count>-th time (counted per process, from
// 1) it raises <action> on itself:
//   kill (default)  SIGKILL: no destructor, no flush, no atexit, exactly what `kill -9` does. Under
//                   mpirun the other ranks are then killed by mpirun.
//   stop            SIGSTOP: the process freezes until SIGCONT (a test changes the world meanwhile,
//                   e.g. fills the disk).
// <rank> (optional, "*" = any) restricts the fault to the process of that MPI rank (read from the
// launcher's environment: OMPI_COMM_WORLD_RANK, PMIX_RANK, PMI_RANK; 0 without a launcher).
// Before acting, one line "scorefarm: fault injection: <action> at <point> #<count> (rank r, pid p)"
// goes to stderr. Unset (the normal case), fault_point costs one load and one branch.
//
// Points (where they are): see the list in fault.cpp.
namespace scorefarm::io {

void fault_point(const char* point);

// Marks this process as a helper child forked by a rank (io's isolated HDF5 work, record_store.cpp):
// a SIGKILL fault there kills the parent rank first, as a kill -9 of the job would.
void fault_in_child();

}  // namespace scorefarm::io
