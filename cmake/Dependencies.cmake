# Every third-party dependency, from Debian packages installed by scripts/bootstrap.
# Libraries without CMake packages come through pkg-config as PkgConfig::<name>.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

find_package(Boost 1.81.0 REQUIRED CONFIG COMPONENTS json url)
find_package(OpenSSL REQUIRED)
find_package(CURL REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(pugixml REQUIRED)
find_package(CLI11 CONFIG REQUIRED)

pkg_check_modules(utf8proc REQUIRED IMPORTED_TARGET libutf8proc)
pkg_check_modules(xxhash REQUIRED IMPORTED_TARGET libxxhash)
pkg_check_modules(md4c REQUIRED IMPORTED_TARGET md4c)
pkg_check_modules(tomlplusplus REQUIRED IMPORTED_TARGET tomlplusplus)
pkg_check_modules(hiredis REQUIRED IMPORTED_TARGET hiredis)
pkg_check_modules(libpq REQUIRED IMPORTED_TARGET libpq)
pkg_check_modules(openblas REQUIRED IMPORTED_TARGET openblas)

# Header-only or library-only packages without any build metadata.
find_path(HNSWLIB_INCLUDE_DIR hnswlib/hnswlib.h REQUIRED)
add_library(contex_hnswlib INTERFACE)
target_include_directories(contex_hnswlib SYSTEM INTERFACE ${HNSWLIB_INCLUDE_DIR})

# oneDNN's CMake package insists on OpenCL, so link the library directly.
find_path(DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp REQUIRED)
find_library(DNNL_LIBRARY dnnl REQUIRED)
add_library(contex_dnnl INTERFACE)
target_include_directories(contex_dnnl SYSTEM INTERFACE ${DNNL_INCLUDE_DIR})
target_link_libraries(contex_dnnl INTERFACE ${DNNL_LIBRARY})

find_path(STEMMER_INCLUDE_DIR libstemmer.h REQUIRED)
find_library(STEMMER_LIBRARY stemmer REQUIRED)
add_library(contex_stemmer INTERFACE)
target_include_directories(contex_stemmer SYSTEM INTERFACE ${STEMMER_INCLUDE_DIR})
target_link_libraries(contex_stemmer INTERFACE ${STEMMER_LIBRARY})

if(CONTEX_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(CONTEX_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
