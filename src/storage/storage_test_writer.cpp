// Test helper process: appends publishes to one project and acknowledges each commit on
// stdout ("ACK <sequence>"). Used by the crash test (SIGKILLed at random moments) and the
// two-process PostgreSQL test.
//
//   storage_test_writer <DATABASE_URL> <project> <count (0 = until killed)>
//
// Every publish replaces the whole node set of data key "doc" (1..7 nodes, each carrying
// the publish's sequence in its data and vector), updates the data-key record and inserts
// the event, in one transaction; so a reader can check that no half-replaced key is visible.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/clock.hpp"
#include "observability/logging.hpp"
#include "observability/metrics.hpp"
#include "storage/storage.hpp"

using namespace contex;
using namespace contex::storage;

namespace {

void WriteAll(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = ::write(STDOUT_FILENO, s.data() + off, s.size() - off);
        if (n <= 0) std::_Exit(3);
        off += static_cast<size_t>(n);
    }
}

Status PublishOnce(ProjectTransaction& t, int64_t* out_seq) {
    CONTEX_ASSIGN_OR_RETURN(int64_t seq, t.AllocateSequence());
    int count = 1 + static_cast<int>(seq % 7);
    CONTEX_ASSIGN_OR_RETURN(auto old, t.GetNodes("doc", false));
    std::vector<std::string> removed;
    for (const auto& n : old) {
        int index = std::atoi(n.node_key.substr(4).c_str());
        if (index >= count) removed.push_back(n.node_key);
    }
    std::vector<NodeRecord> nodes;
    for (int i = 0; i < count; ++i) {
        NodeRecord n;
        n.data_key = "doc";
        n.node_key = "doc." + std::to_string(i);
        n.node_path = std::to_string(i);
        n.node_type = "value";
        n.description = "node " + std::to_string(i) + " of version " + std::to_string(seq);
        n.data_format = "json";
        n.model_id = "crash-test";
        n.data = json::object{{"v", seq}, {"i", i}};
        n.node_index = i;
        n.embedding.assign(16, static_cast<float>(seq));
        nodes.push_back(std::move(n));
    }
    CONTEX_TRY(t.ReplaceNodes("doc", removed, nodes));
    DataKeyRecord d;
    d.data_key = "doc";
    d.data_format = "json";
    d.content_hash = std::to_string(seq);
    d.data_original = json::object{{"v", seq}};
    d.node_count = count;
    d.sequence = seq;
    CONTEX_TRY(t.UpsertDataKey(d));
    EventRecord e;
    e.sequence = seq;
    e.event_type = "doc_updated";
    e.data = json::object{{"doc", json::object{{"v", seq}}}};
    e.data_key = "doc";
    e.data_format = "json";
    e.content_hash = std::to_string(seq);
    CONTEX_TRY(t.InsertEvent(e));
    *out_seq = seq;
    return OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s <DATABASE_URL> <project> <count>\n", argv[0]);
        return 2;
    }
    SystemClock clock;
    obs::Logger logger(obs::LogOptions{obs::LogLevel::kWarning, true, stderr}, clock);
    obs::MetricsRegistry metrics;
    StorageConfig config;
    config.database_url = argv[1];
    config.pool_size = 1;
    config.max_overflow = 0;
    auto storage = OpenStorage(config, logger, metrics, clock);
    if (!storage.ok()) {
        std::fprintf(stderr, "open failed: %s\n", storage.error().message.c_str());
        return 1;
    }
    std::string project = argv[2];
    long count = std::atol(argv[3]);
    WriteAll("READY\n");
    for (long i = 0; count == 0 || i < count; ++i) {
        int64_t seq = 0;
        auto st = (*storage)->WithProjectTransaction(
            project, [&](ProjectTransaction& t) { return PublishOnce(t, &seq); });
        if (!st.ok()) {
            std::fprintf(stderr, "publish failed: %s\n", st.error().message.c_str());
            return 1;
        }
        WriteAll("ACK " + std::to_string(seq) + "\n");
    }
    return 0;
}
