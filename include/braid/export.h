// Symbol visibility for libbraid. The library builds with -fvisibility=hidden; only
// declarations marked BRAID_API are exported.
#pragma once

#if defined(BRAID_BUILDING_LIBRARY)
#define BRAID_API __attribute__((visibility("default")))
#else
#define BRAID_API
#endif
