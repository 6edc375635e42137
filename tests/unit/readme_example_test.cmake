# Compiles the C++ example in README.md (its first ```cpp block) against include/ and libbraid.so,
# then runs it as one rank and, when mpiexec is available, as two ranks. Run as a ctest test:
#   cmake -DREADME=... -DCXX=... -DINCLUDE_DIR=... -DLIB_DIR=... -DWORK_DIR=... [-DMPIEXEC=...]
#         -P readme_example_test.cmake
# Any failure is a FATAL_ERROR, which makes cmake -P exit non-zero.
cmake_minimum_required(VERSION 3.25)

foreach(var README CXX INCLUDE_DIR LIB_DIR WORK_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "readme_example_test.cmake: -D${var}=... is required")
  endif()
endforeach()

# ---- the quick start is exactly the two commands tools/run and tools/test ----------------------
file(READ "${README}" text)
if(NOT text MATCHES "## Quick start[^#]*```sh\ntools/run\ntools/test\n```")
  message(FATAL_ERROR "${README}: the Quick start section must hold one ```sh block with exactly "
                      "the two lines tools/run and tools/test")
endif()

include(${CMAKE_CURRENT_LIST_DIR}/readme_cpp_block.cmake)
braid_readme_cpp_block("${README}" code)

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
file(WRITE "${WORK_DIR}/readme_example.cc" "${code}")

# ---- compile: warnings are errors, so the example stays clean --------------------------------
execute_process(
  COMMAND "${CXX}" -std=c++20 -Wall -Wextra -Werror -I "${INCLUDE_DIR}"
          "${WORK_DIR}/readme_example.cc" -o "${WORK_DIR}/readme_example"
          -L "${LIB_DIR}" -lbraid "-Wl,-rpath,${LIB_DIR}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "README example does not compile (${rc}):\n${out}")
endif()
message(STATUS "README example compiled: ${WORK_DIR}/readme_example")

# The example must not pick up a launcher's or another test's rank variables.
foreach(var BRAID_RANK BRAID_WORLD_SIZE BRAID_ROOT BRAID_ID_FILE PMI_RANK PMI_SIZE)
  unset(ENV{${var}})
endforeach()
set(ENV{BRAID_TIMEOUT} 30)

# ---- one rank: no id exchange at all ------------------------------------------------------------
execute_process(COMMAND "${WORK_DIR}/readme_example" WORKING_DIRECTORY "${WORK_DIR}"
                TIMEOUT 60 RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "rank 0 of 1: 1 \\(expected 1\\)")
  message(FATAL_ERROR "README example, 1 rank: exit ${rc}\nstdout:\n${out}\nstderr:\n${err}")
endif()
message(STATUS "1 rank: ${out}")

# ---- two ranks under mpiexec (PMI_RANK/PMI_SIZE), the id shared through a file ----------------
if(MPIEXEC AND EXISTS "${MPIEXEC}")
  set(ENV{BRAID_ID_FILE} "${WORK_DIR}/job.id")
  file(REMOVE "${WORK_DIR}/job.id")  # one left by an earlier run would name its dead root
  execute_process(COMMAND "${MPIEXEC}" -n 2 "${WORK_DIR}/readme_example"
                  WORKING_DIRECTORY "${WORK_DIR}"
                  TIMEOUT 90 RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "rank 0 of 2: 3 \\(expected 3\\)"
     OR NOT out MATCHES "rank 1 of 2: 3 \\(expected 3\\)")
    message(FATAL_ERROR "README example, 2 ranks: exit ${rc}\nstdout:\n${out}\nstderr:\n${err}")
  endif()
  message(STATUS "2 ranks:\n${out}")
else()
  message(STATUS "mpiexec not found: skipped the 2-rank run")
endif()
