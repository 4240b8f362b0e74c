# Finds nat.cpp's dependencies (Debian packages, plus the CUDA toolkit under /usr/local/cuda).
# scripts/deps.sh installs the Debian side; scripts/gpu_check.sh carries them to a GPU machine.
find_package(Threads REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(PkgConfig REQUIRED)

# ---- CUDA ----
set(NAT_WITH_CUDA OFF)
if(NOT NAT_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    enable_language(CUDA)
    # CMake 3.25 does not know nvcc's C++20 flag, so .cu files are C++17; the headers they
    # include (core/*.h kernels-side) stay C++17-clean.
    set(CMAKE_CUDA_STANDARD 17)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    set(CMAKE_CUDA_EXTENSIONS OFF)
    find_package(CUDAToolkit REQUIRED)
    find_library(NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda/lib64)
    find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include)
    set(NAT_WITH_CUDA ON)
  elseif(NAT_CUDA STREQUAL "ON")
    message(FATAL_ERROR "NAT_CUDA=ON but no CUDA compiler was found (looked for nvcc; set CMAKE_CUDA_COMPILER)")
  endif()
endif()

# ---- CPU BLAS (OpenBLAS through its CBLAS interface) ----
pkg_check_modules(OPENBLAS IMPORTED_TARGET openblas)

# ---- JSON (safetensors headers): header-only, Debian nlohmann-json3-dev ----
find_package(nlohmann_json 3 REQUIRED)

# ---- Optional for the minimal GPU-check build, required for the full tool ----
find_package(yaml-cpp QUIET)
find_package(spdlog QUIET)
find_package(OpenCV QUIET COMPONENTS core imgproc imgcodecs)
find_package(MPI QUIET COMPONENTS CXX)
