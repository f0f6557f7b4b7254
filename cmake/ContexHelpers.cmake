# contex_add_module(<name> SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# Creates library target contex_<name> (alias contex::<name>) whose public headers
# are included as "<name>/header.hpp" from src/.
function(contex_add_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(contex_${name} STATIC ${ARG_SOURCES})
  add_library(contex::${name} ALIAS contex_${name})
  target_include_directories(contex_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(contex_${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# contex_add_test(<name> SOURCES ... [DEPS ...] [LABELS ...])
# A GoogleTest executable whose tests ctest discovers at test time.
function(contex_add_test name)
  if(NOT CONTEX_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    CONTEX_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  set(labels unit)
  if(ARG_LABELS)
    set(labels ${ARG_LABELS})
  endif()
  gtest_discover_tests(${name}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    DISCOVERY_MODE PRE_TEST
    PROPERTIES LABELS "${labels}")
endfunction()
