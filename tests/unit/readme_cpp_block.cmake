# braid_readme_cpp_block(<README.md> <out_var>): the text of README.md's first ```cpp block, with
# its last newline; a FATAL_ERROR names the file when there is none or it is not closed. Shared by
# readme_example_test.cmake and install_test.cmake, which both compile that example.
function(braid_readme_cpp_block readme out_var)
  file(READ "${readme}" text)
  string(FIND "${text}" "```cpp\n" begin)
  if(begin EQUAL -1)
    message(FATAL_ERROR "${readme} has no ```cpp block")
  endif()
  math(EXPR begin "${begin} + 7")  # skip the opening fence and its newline
  string(SUBSTRING "${text}" ${begin} -1 rest)
  string(FIND "${rest}" "\n```" end)
  if(end EQUAL -1)
    message(FATAL_ERROR "${readme}: the ```cpp block is not closed")
  endif()
  math(EXPR end "${end} + 1")  # keep the last line's newline
  string(SUBSTRING "${rest}" 0 ${end} code)
  set(${out_var} "${code}" PARENT_SCOPE)
endfunction()
