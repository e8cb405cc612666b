// The status tables of the emulated CUDA libraries (driver.cpp, runtime.cpp, cublas.cpp): each status code with its
// name and description, looked up the same way in each library. Test code; no status is decided here.
#pragma once

namespace pg_emulator {

struct StatusName {
    int status;
    const char* name;
    const char* text;
};

// The entry of `status` in `table`, or null when the table does not list it.
template <int N>
const StatusName* find_status(const StatusName (&table)[N], int status) {
    for (const StatusName& entry : table) {
        if (entry.status == status) return &entry;
    }
    return nullptr;
}

}  // namespace pg_emulator
