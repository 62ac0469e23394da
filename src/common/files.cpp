#include "common/files.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace tameq {

std::string read_file(const std::string& path) {
    if (std::filesystem::is_directory(path)) fail(path, "is a directory, expected a file");
    if (!std::filesystem::exists(path)) fail(path, "no such file");
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(path, "cannot open: {}", std::strerror(errno));
    std::stringstream ss;
    ss << in.rdbuf();
    if (in.bad()) fail(path, "read failed: {}", std::strerror(errno));
    return ss.str();
}

nlohmann::json read_json_file(const std::string& path) {
    const std::string text = read_file(path);
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        fail(path, "invalid JSON: {}", e.what());
    }
}

namespace {

std::string temp_path_for(const std::string& path) {
    return path + ".tmp." + std::to_string(::getpid());
}

}  // namespace

void write_file_atomic(const std::string& path, const std::string& content) {
    if (std::filesystem::is_directory(path)) fail(path, "is a directory, expected a file name");
    const std::string tmp = temp_path_for(path);
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) fail(path, "cannot write: {}", std::strerror(errno));
        out.write(content.data(), std::streamsize(content.size()));
        out.flush();
        if (!out) {
            std::remove(tmp.c_str());
            fail(path, "write failed: {}", std::strerror(errno));
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const int e = errno;
        std::remove(tmp.c_str());
        fail(path, "cannot replace: {}", std::strerror(e));
    }
}

void check_writable(const std::string& path) {
    if (std::filesystem::is_directory(path)) fail(path, "is a directory, expected a file name");
    const std::string tmp = temp_path_for(path);
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail(path, "cannot write: {}", std::strerror(errno));
    out.close();
    std::remove(tmp.c_str());
}

}  // namespace tameq
