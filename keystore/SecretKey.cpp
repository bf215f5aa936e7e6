#include "keystore/SecretKey.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <stdexcept>

namespace keystore {

namespace {

std::string octal(mode_t mode) {
    std::ostringstream o;
    o << "0" << std::oct << (mode & 0777);
    return o.str();
}

}  // namespace

void prepare_keystore_dir(const std::string& keystore_dir) {
    namespace fs = std::filesystem;
    const fs::path dir(keystore_dir);
    if (!fs::exists(dir)) {
        if (dir.has_parent_path()) fs::create_directories(dir.parent_path());
        if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
            throw std::runtime_error("cannot create the keystore folder " + keystore_dir + ": " + std::strerror(errno));
        chmod(dir.c_str(), 0700);
    }
    struct stat st {};
    if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        throw std::runtime_error("the keystore folder " + keystore_dir + " is not a directory");
    if (st.st_mode & 077)
        throw std::runtime_error("the keystore folder " + keystore_dir + " has mode " + octal(st.st_mode) +
                                 "; it must be accessible by its owner only (chmod 700)");
}

SecretBytes SecretKey::load(const std::string& keystore_dir, bool create) {
    const std::string path = keystore_dir + "/" + kFileName;
    SecretBytes key{};
    int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
        if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1)
            throw std::runtime_error("cannot create the secret key: RAND_bytes failed");
        const std::string tmp = path + ".new";
        int out = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (out < 0) throw std::runtime_error("cannot create " + tmp + ": " + std::strerror(errno));
        const bool ok = write(out, key.data(), key.size()) == static_cast<ssize_t>(key.size()) && fsync(out) == 0;
        close(out);
        // link() fails when another process created the key meanwhile: theirs wins.
        if (!ok || (link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST)) {
            unlink(tmp.c_str());
            throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
        }
        unlink(tmp.c_str());
        if (int d = open(keystore_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); d >= 0) {
            fsync(d);
            close(d);
        }
        fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) throw std::runtime_error("cannot open the secret key " + path + ": " + std::strerror(errno));
    struct stat st {};
    fstat(fd, &st);
    if (st.st_mode & 077) {
        close(fd);
        throw std::runtime_error("the secret key " + path + " has mode " + octal(st.st_mode) +
                                 "; it must be readable by its owner only (chmod 600)");
    }
    if (st.st_size != static_cast<off_t>(key.size())) {
        close(fd);
        throw std::runtime_error("the secret key " + path + " is not 32 bytes long");
    }
    const ssize_t n = read(fd, key.data(), key.size());
    close(fd);
    if (n != static_cast<ssize_t>(key.size())) throw std::runtime_error("cannot read the secret key " + path);
    return key;
}

}  // namespace keystore
