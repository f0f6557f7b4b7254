#include "embed/testing/local_fixture.hpp"

#include <unistd.h>

#include <cstdlib>
#include <string>
#include <system_error>

namespace contex::embed::testing {

std::optional<std::filesystem::path> LocalFixtureModel() {
#if defined(CONTEX_HAVE_EMBED_NATIVE) && defined(CONTEX_EMBED_FIXTURE_DIR)
    namespace fs = std::filesystem;
    const fs::path root = CONTEX_EMBED_FIXTURE_DIR;
    const fs::path model = root / "f32_mean";
    if (fs::exists(model / "expected.json")) return model;
    // ctest runs each case in its own process, possibly in parallel: generate into a
    // private directory and rename it into place; the loser of a race uses the winner's.
    const fs::path tmp = root.string() + ".tmp." + std::to_string(getpid());
    const std::string script =
        std::string(CONTEX_SOURCE_DIR) + "/src/embed/native/tools/make_bert_fixture.py";
    const std::string python = fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
    const std::string cmd = python + " '" + script + "' '" + tmp.string() + "' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) return std::nullopt;
    std::error_code ec;
    fs::rename(tmp, root, ec);
    if (ec) fs::remove_all(tmp, ec);
    if (fs::exists(model / "expected.json")) return model;
#endif
    return std::nullopt;
}

}  // namespace contex::embed::testing
