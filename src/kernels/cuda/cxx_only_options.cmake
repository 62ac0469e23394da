# The project's warning flags are GCC/Clang flags that nvcc rejects: restrict this directory's inherited
# options to C++ sources. The .cu files get nvcc's own flags from their target.
get_directory_property(tameq_cxx_options COMPILE_OPTIONS)
set(tameq_wrapped_options "")
foreach(opt IN LISTS tameq_cxx_options)
  list(APPEND tameq_wrapped_options "$<$<COMPILE_LANGUAGE:CXX>:${opt}>")
endforeach()
set_property(DIRECTORY PROPERTY COMPILE_OPTIONS ${tameq_wrapped_options})
set(TAMEQ_NVCC_OPTIONS -Xcompiler=-Wall,-Wextra,-Wno-unused-parameter --Werror=all-warnings -lineinfo)
