// TSan runtime options for the index test binaries (not part of the library).
//
// hnswlib keeps one std::mutex per graph node; std::mutex has a trivial destructor, so
// when a test builds a second graph in memory freed by the first, TSan's deadlock
// detector still holds the old lock-order edges and reports inversions with lost stacks
// (the library suppresses the genuine-stack variant in hnsw_graph.cpp). Data-race
// detection stays on; the index's own lock order is fixed (maintain -> writer -> current
// snapshot pointer) and documented in project_index.hpp.
#if defined(__SANITIZE_THREAD__)
extern "C" const char* __tsan_default_options() { return "detect_deadlocks=0"; }
#endif
