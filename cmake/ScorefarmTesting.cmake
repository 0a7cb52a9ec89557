# scorefarm_add_test(NAME name SOURCES a.cpp ... LIBRARIES lib ... [MPI_RANKS n] [LABELS l ...])
# One Boost.Test binary per module. With MPI_RANKS the test runs under mpiexec, oversubscribed so
# that a 2-core machine can host more ranks than it has cores.
set(SCOREFARM_MPIEXEC_PREFLAGS --oversubscribe --allow-run-as-root)
function(scorefarm_add_test)
  cmake_parse_arguments(T "" "NAME;MPI_RANKS;TIMEOUT" "SOURCES;LIBRARIES;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBRARIES} Boost::unit_test_framework)
  target_compile_definitions(${T_NAME} PRIVATE BOOST_TEST_DYN_LINK
                             SCOREFARM_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  if(T_MPI_RANKS)
    add_test(NAME ${T_NAME}
             COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${T_MPI_RANKS}
                     ${SCOREFARM_MPIEXEC_PREFLAGS} $<TARGET_FILE:${T_NAME}>)
    list(APPEND T_LABELS mpi)
  else()
    add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}"
                       ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
endfunction()
