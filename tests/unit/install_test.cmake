# Installs the build into a scratch prefix, moves the prefix elsewhere (an install must not
# remember where it was made), and then uses it as a user would:
#  - find_package(braid 0.1) + braid::braid in a CMake project that builds README's example;
#  - pkg-config braid for a plain compiler command line, the same example;
#  - both programs run as a one-rank communicator; the installed tools start from the moved bin/;
#  - find_package(braid 99) is refused with a message naming the version.
# Run as a ctest test:
#   cmake -DBUILD_DIR=... -DREADME=... -DWORK_DIR=... -DCXX=... -DPKG_CONFIG=... -P install_test.cmake
# Any failure is a FATAL_ERROR, which makes cmake -P exit non-zero.
cmake_minimum_required(VERSION 3.25)

foreach(var BUILD_DIR README WORK_DIR CXX PKG_CONFIG)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "install_test.cmake: -D${var}=... is required")
  endif()
endforeach()

# Runs a command; a non-zero exit is fatal and shows what it printed. The output is returned in
# `out_var` when one is given.
function(run_or_fail what)
  cmake_parse_arguments(arg "" "OUTPUT;WORKING_DIRECTORY" "COMMAND" ${ARGN})
  if(NOT arg_WORKING_DIRECTORY)
    set(arg_WORKING_DIRECTORY "${WORK_DIR}")
  endif()
  execute_process(COMMAND ${arg_COMMAND} WORKING_DIRECTORY "${arg_WORKING_DIRECTORY}" TIMEOUT 300
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what}: exit ${rc}\ncommand: ${arg_COMMAND}\nstdout:\n${out}\nstderr:\n${err}")
  endif()
  if(arg_OUTPUT)
    set(${arg_OUTPUT} "${out}" PARENT_SCOPE)
  endif()
endfunction()

# The programs must find libbraid through the install, not through a variable the caller set.
foreach(var LD_LIBRARY_PATH PKG_CONFIG_PATH CMAKE_PREFIX_PATH BRAID_RANK BRAID_WORLD_SIZE BRAID_ROOT
            BRAID_ID_FILE PMI_RANK PMI_SIZE)
  unset(ENV{${var}})
endforeach()
set(ENV{BRAID_TIMEOUT} 30)

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(staged "${WORK_DIR}/staged")
set(prefix "${WORK_DIR}/moved/prefix")

# ---- install, then move the prefix --------------------------------------------------------------
run_or_fail("cmake --install" COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${staged}")
file(MAKE_DIRECTORY "${WORK_DIR}/moved")
file(RENAME "${staged}" "${prefix}")

file(GLOB pc_files "${prefix}/lib*/pkgconfig/braid.pc" "${prefix}/lib/*/pkgconfig/braid.pc")
file(GLOB config_files "${prefix}/lib*/cmake/braid/braidConfig.cmake" "${prefix}/lib/*/cmake/braid/braidConfig.cmake")
foreach(expected include/braid/comm.h include/braid/mpi.h)
  if(NOT EXISTS "${prefix}/${expected}")
    message(FATAL_ERROR "the install lacks ${expected}")
  endif()
endforeach()
if(NOT pc_files OR NOT config_files)
  message(FATAL_ERROR "the install lacks braid.pc (${pc_files}) or braidConfig.cmake (${config_files})")
endif()
# Nothing installed may name the build or source tree: it would break on another machine.
get_filename_component(config_dir "${config_files}" DIRECTORY)
file(GLOB package_files "${config_dir}/*.cmake")
foreach(f ${package_files} ${pc_files})
  file(READ "${f}" text)
  string(FIND "${text}" "${BUILD_DIR}" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "${f} names the build directory ${BUILD_DIR}")
  endif()
endforeach()

include(${CMAKE_CURRENT_LIST_DIR}/readme_cpp_block.cmake)
braid_readme_cpp_block("${README}" code)

# Runs a built example as one rank and checks its answer.
function(expect_one_rank_sum program)
  run_or_fail("${program}, 1 rank" COMMAND "${program}" OUTPUT out)
  if(NOT out MATCHES "rank 0 of 1: 1 \\(expected 1\\)")
    message(FATAL_ERROR "${program}, 1 rank, printed:\n${out}")
  endif()
  message(STATUS "${program}: ${out}")
endfunction()

# ---- a CMake user: find_package(braid) ----------------------------------------------------------
function(write_consumer dir version)
  file(MAKE_DIRECTORY "${dir}")
  file(WRITE "${dir}/readme_example.cc" "${code}")
  file(WRITE "${dir}/CMakeLists.txt" "cmake_minimum_required(VERSION 3.25)
project(braid_consumer CXX)
set(CMAKE_CXX_STANDARD 20)
find_package(braid ${version} REQUIRED)
add_executable(readme_example readme_example.cc)
target_link_libraries(readme_example PRIVATE braid::braid)
")
endfunction()

set(consumer "${WORK_DIR}/cmake_consumer")
write_consumer("${consumer}" 0.1)
run_or_fail("configure a find_package(braid) project"
            COMMAND "${CMAKE_COMMAND}" -S "${consumer}" -B "${consumer}/build"
                    "-DCMAKE_PREFIX_PATH=${prefix}" "-DCMAKE_CXX_COMPILER=${CXX}")
run_or_fail("build a find_package(braid) project" COMMAND "${CMAKE_COMMAND}" --build "${consumer}/build")
expect_one_rank_sum("${consumer}/build/readme_example")

set(too_new "${WORK_DIR}/cmake_consumer_99")
write_consumer("${too_new}" 99)
execute_process(COMMAND "${CMAKE_COMMAND}" -S "${too_new}" -B "${too_new}/build"
                        "-DCMAKE_PREFIX_PATH=${prefix}" "-DCMAKE_CXX_COMPILER=${CXX}"
                WORKING_DIRECTORY "${WORK_DIR}" TIMEOUT 120
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT "${out}${err}" MATCHES "version: 0\\.")
  message(FATAL_ERROR "find_package(braid 99) was not refused with the installed version named: "
                      "exit ${rc}\n${out}\n${err}")
endif()

# ---- a plain compiler command line: pkg-config ---------------------------------------------------
get_filename_component(pc_dir "${pc_files}" DIRECTORY)
set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
run_or_fail("pkg-config --cflags --libs braid" COMMAND "${PKG_CONFIG}" --cflags --libs braid OUTPUT flags)
string(STRIP "${flags}" flags)
separate_arguments(flags UNIX_COMMAND "${flags}")
run_or_fail("pkg-config --variable=libdir braid" COMMAND "${PKG_CONFIG}" --variable=libdir braid OUTPUT libdir)
string(STRIP "${libdir}" libdir)
file(WRITE "${WORK_DIR}/pkgconfig_example.cc" "${code}")
run_or_fail("compile with pkg-config's flags"
            COMMAND "${CXX}" -std=c++20 -Wall -Werror "${WORK_DIR}/pkgconfig_example.cc"
                    -o "${WORK_DIR}/pkgconfig_example" ${flags} "-Wl,-rpath,${libdir}")
expect_one_rank_sum("${WORK_DIR}/pkgconfig_example")

# ---- the installed tools start from the moved prefix ---------------------------------------------
foreach(tool braid-perf plan-sim braid-topo)
  if(EXISTS "${BUILD_DIR}/bin/${tool}")
    run_or_fail("installed ${tool} --version" COMMAND "${prefix}/bin/${tool}" --version OUTPUT out)
    message(STATUS "${tool}: ${out}")
  endif()
endforeach()
