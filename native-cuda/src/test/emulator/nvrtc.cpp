// The test-only emulated libnvrtc.so.13: "compiles" a CUDA C++ program by handing it to g++ with emulated_device.h
// in front and one PG_EMULATED_ENTRY per extern "C" __global__ function behind, and returns the shared object as the
// "cubin" (magic, length, bytes), which the emulated driver loads. Options are checked as NVRTC would; g++'s
// diagnostics are the program log. It is not NVRTC and reports no real architecture; build.sh says how it is used.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#ifndef PG_EMULATOR_HEADER
#error "build.sh defines PG_EMULATOR_HEADER, the absolute path of emulated_device.h"
#endif

namespace {

// nvrtcResult values (nvrtc.h)
constexpr int NVRTC_SUCCESS = 0;
constexpr int NVRTC_ERROR_INVALID_INPUT = 3;
constexpr int NVRTC_ERROR_INVALID_PROGRAM = 4;
constexpr int NVRTC_ERROR_INVALID_OPTION = 5;
constexpr int NVRTC_ERROR_COMPILATION = 6;
constexpr int NVRTC_ERROR_INTERNAL_ERROR = 11;

constexpr char IMAGE_MAGIC[8] = {'P', 'G', 'E', 'M', 'U', '1', 0, 0};   // driver.cpp reads it
constexpr int ARCHITECTURES[] = {75, 80, 86, 87, 89, 90, 100, 103, 120};

struct Program {
    std::string source, name;
    std::vector<std::pair<std::string, std::string>> headers;   // include name, text
    std::string log;
    std::vector<char> image;
};

bool writeFile(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
    return (bool) out;
}

std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// NVRTC's --gpu-architecture=sm_XY / compute_XY (also -arch), --std=c++XY; anything else is refused.
bool acceptedOption(const std::string& option) {
    static const std::regex accepted(
            "(--gpu-architecture=|-arch=|-arch |--gpu-architecture )(sm|compute)_[0-9]+a?|--std=c\\+\\+(11|14|17|20)"
            "|-std=c\\+\\+(11|14|17|20)|--use_fast_math|-lineinfo|--device-debug|-G");
    return std::regex_match(option, accepted);
}

}  // namespace

extern "C" {

const char* nvrtcGetErrorString(int status) {
    switch (status) {
        case NVRTC_SUCCESS: return "NVRTC_SUCCESS";
        case NVRTC_ERROR_INVALID_INPUT: return "NVRTC_ERROR_INVALID_INPUT";
        case NVRTC_ERROR_INVALID_PROGRAM: return "NVRTC_ERROR_INVALID_PROGRAM";
        case NVRTC_ERROR_INVALID_OPTION: return "NVRTC_ERROR_INVALID_OPTION";
        case NVRTC_ERROR_COMPILATION: return "NVRTC_ERROR_COMPILATION";
        case NVRTC_ERROR_INTERNAL_ERROR: return "NVRTC_ERROR_INTERNAL_ERROR";
        default: return "NVRTC_ERROR unknown";
    }
}

int nvrtcVersion(int* major, int* minor) {
    if (!major || !minor) return NVRTC_ERROR_INVALID_INPUT;
    *major = 13;
    *minor = 1;
    return NVRTC_SUCCESS;
}

int nvrtcGetNumSupportedArchs(int* count) {
    if (!count) return NVRTC_ERROR_INVALID_INPUT;
    *count = (int) (sizeof ARCHITECTURES / sizeof ARCHITECTURES[0]);
    return NVRTC_SUCCESS;
}

int nvrtcGetSupportedArchs(int* architectures) {
    if (!architectures) return NVRTC_ERROR_INVALID_INPUT;
    std::memcpy(architectures, ARCHITECTURES, sizeof ARCHITECTURES);
    return NVRTC_SUCCESS;
}

int nvrtcCreateProgram(Program** program, const char* source, const char* name, int headerCount,
                       const char* const* headers, const char* const* includeNames) {
    if (!program || !source || headerCount < 0 || (headerCount > 0 && (!headers || !includeNames))) {
        return NVRTC_ERROR_INVALID_INPUT;
    }
    auto* p = new Program{source, name ? name : "default_program", {}, {}, {}};
    for (int i = 0; i < headerCount; i++) p->headers.emplace_back(includeNames[i], headers[i]);
    *program = p;
    return NVRTC_SUCCESS;
}

int nvrtcDestroyProgram(Program** program) {
    if (!program || !*program) return NVRTC_ERROR_INVALID_PROGRAM;
    delete *program;
    *program = nullptr;
    return NVRTC_SUCCESS;
}

int nvrtcCompileProgram(Program* program, int optionCount, const char* const* options) {
    if (!program) return NVRTC_ERROR_INVALID_PROGRAM;
    if (optionCount < 0 || (optionCount > 0 && !options)) return NVRTC_ERROR_INVALID_INPUT;
    for (int i = 0; i < optionCount; i++) {
        if (!options[i] || !acceptedOption(options[i])) {
            program->log = std::string("nvrtc: error: invalid or unknown option: ") + (options[i] ? options[i] : "");
            return NVRTC_ERROR_INVALID_OPTION;
        }
    }
    char directory[] = "/tmp/pg-emulated-nvrtc-XXXXXX";
    if (!mkdtemp(directory)) return NVRTC_ERROR_INTERNAL_ERROR;
    std::string dir = directory;
    std::string base = program->name.substr(program->name.find_last_of('/') + 1);
    std::string text = program->source + "\n";
    static const std::regex kernel("extern\\s+\"C\"\\s+__global__\\s+void\\s+(\\w+)\\s*\\(");
    for (std::sregex_iterator it(program->source.begin(), program->source.end(), kernel), end; it != end; ++it) {
        text += "PG_EMULATED_ENTRY(" + (*it)[1].str() + ")\n";
    }
    bool written = writeFile(dir + "/" + base, text);
    for (auto& [name, body] : program->headers) written = written && writeFile(dir + "/" + name, body);
    std::string library = dir + "/module.so", log = dir + "/log.txt";
    const char* compiler = std::getenv("CXX") ? std::getenv("CXX") : "g++";
    std::string command = std::string(compiler) + " -std=c++17 -O1 -fPIC -shared -w -include " PG_EMULATOR_HEADER
            " -I" + dir + " -x c++ " + dir + "/" + base + " -o " + library + " >" + log + " 2>&1";
    int status = written ? std::system(command.c_str()) : -1;
    program->log = readFile(log);
    int result = NVRTC_SUCCESS;
    if (status != 0) {
        result = NVRTC_ERROR_COMPILATION;
    } else {
        std::string bytes = readFile(library);
        std::uint64_t length = bytes.size();
        program->image.assign(IMAGE_MAGIC, IMAGE_MAGIC + sizeof IMAGE_MAGIC);
        program->image.insert(program->image.end(), (const char*) &length, (const char*) &length + sizeof length);
        program->image.insert(program->image.end(), bytes.begin(), bytes.end());
    }
    std::system(("rm -rf " + dir).c_str());
    return result;
}

int nvrtcGetProgramLogSize(Program* program, std::size_t* size) {
    if (!program) return NVRTC_ERROR_INVALID_PROGRAM;
    if (!size) return NVRTC_ERROR_INVALID_INPUT;
    *size = program->log.size() + 1;
    return NVRTC_SUCCESS;
}

int nvrtcGetProgramLog(Program* program, char* log) {
    if (!program) return NVRTC_ERROR_INVALID_PROGRAM;
    if (!log) return NVRTC_ERROR_INVALID_INPUT;
    std::memcpy(log, program->log.c_str(), program->log.size() + 1);
    return NVRTC_SUCCESS;
}

int nvrtcGetCUBINSize(Program* program, std::size_t* size) {
    if (!program) return NVRTC_ERROR_INVALID_PROGRAM;
    if (!size || program->image.empty()) return NVRTC_ERROR_INVALID_INPUT;
    *size = program->image.size();
    return NVRTC_SUCCESS;
}

int nvrtcGetCUBIN(Program* program, char* cubin) {
    if (!program) return NVRTC_ERROR_INVALID_PROGRAM;
    if (!cubin || program->image.empty()) return NVRTC_ERROR_INVALID_INPUT;
    std::memcpy(cubin, program->image.data(), program->image.size());
    return NVRTC_SUCCESS;
}

int nvrtcGetPTXSize(Program* program, std::size_t* size) {
    return nvrtcGetCUBINSize(program, size);
}

int nvrtcGetPTX(Program* program, char* ptx) {
    return nvrtcGetCUBIN(program, ptx);
}

}  // extern "C"
