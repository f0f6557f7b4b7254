// Structured formats (json, yaml, toml, xml) over real-looking fixtures, plus the data
// model mapping (§1.3) and split rules (§1.5).
#include <gtest/gtest.h>

#include <thread>

#include "ingest/test_support.hpp"

namespace contex::ingest {
namespace {

using testing::Fixture;
using testing::HasNode;
using testing::NodeAt;
using testing::ParseOk;

std::vector<std::string> Paths(const Document& doc) {
    std::vector<std::string> out;
    for (const auto& n : doc.nodes) out.push_back(n.path);
    return out;
}

TEST(JsonFixture, PackageJsonSplitsIntoSections) {
    json::value data = ParseJson(Fixture("package.json")).value();
    Document doc = ParseOk("frontend_package", data);
    EXPECT_EQ(doc.format, Format::kJson);
    EXPECT_EQ(Paths(doc), (std::vector<std::string>{"root", "scripts", "dependencies",
                                                    "devDependencies", "engines",
                                                    "contributors[0]", "contributors[1]"}));
    EXPECT_EQ(NodeAt(doc, "root").text,
              "frontend package | name: @acme/web-dashboard | version: 2.4.1 | private: true | "
              "description: Operations dashboard for the Acme platform | keywords: dashboard, ops");
    EXPECT_EQ(NodeAt(doc, "devDependencies").text,
              "frontend package | dev Dependencies | typescript: ^5.2.2 | vite: ^5.0.0");
    EXPECT_EQ(NodeAt(doc, "contributors[1]").node_key, "frontend_package.contributors[1]");
    EXPECT_EQ(NodeAt(doc, "contributors[1]").text,
              "frontend package | contributors | name: Bo Chen | email: bo@example.com");
}

TEST(JsonFixture, PackageJsonAsStringWithHintMatchesNative) {
    std::string text = Fixture("package.json");
    Document native = ParseOk("p", ParseJson(text).value());
    Document hinted = ParseOk("p", json::value(text), "json");
    Document detected = ParseOk("p", json::value(text));
    ASSERT_EQ(native.nodes.size(), hinted.nodes.size());
    ASSERT_EQ(native.nodes.size(), detected.nodes.size());
    for (std::size_t i = 0; i < native.nodes.size(); ++i) {
        EXPECT_EQ(native.nodes[i].text, hinted.nodes[i].text);
        EXPECT_EQ(native.nodes[i].text, detected.nodes[i].text);
    }
    EXPECT_EQ(detected.format, Format::kJson);
}

TEST(YamlFixture, DockerComposeServicesBecomeNodes) {
    Document doc = ParseOk("compose", json::value(Fixture("docker-compose.yml")));
    EXPECT_EQ(doc.format, Format::kYaml);
    EXPECT_EQ(Paths(doc), (std::vector<std::string>{"root", "services.api",
                                                    "services.api.environment", "services.db",
                                                    "services.db.healthcheck", "services.cache",
                                                    "volumes"}));
    EXPECT_EQ(NodeAt(doc, "root").text, "compose | version: 3.9");
    EXPECT_EQ(NodeAt(doc, "services.api").text,
              "compose | services api | build: ./api | ports: 8000:8000 | depends_on: db, cache");
    EXPECT_EQ(NodeAt(doc, "services.db.healthcheck").text,
              "compose | services db healthcheck | test: CMD, pg_isready, -U, app | interval: 5s");
    EXPECT_EQ(NodeAt(doc, "volumes").text, "compose | volumes | pgdata: {}");
}

TEST(YamlFixture, OpenApiPathsKeepSlashKeys) {
    Document doc = ParseOk("petstore_api", json::value(Fixture("openapi.yaml")), "yml");
    EXPECT_EQ(doc.format, Format::kYaml);
    EXPECT_EQ(NodeAt(doc, "paths./pets.get").text,
              "petstore api | paths pets get | summary: List pets | operationId: listPets");
    EXPECT_EQ(NodeAt(doc, "paths./pets.get.parameters[0]").text,
              "petstore api | paths pets get parameters | name: limit | in: query | required: false");
    EXPECT_EQ(NodeAt(doc, "paths./pets.get.responses.200").text,
              "petstore api | paths pets get responses 200 | description: A list of pets");
    EXPECT_EQ(ToJson(NodeAt(doc, "components.schemas.Pet").data),
              R"({"type":"object","required":["id","name"]})");
    EXPECT_EQ(NodeAt(doc, "servers[0]").type, NodeType::kObject);
}

TEST(YamlModel, CoreSchemaTypes) {
    auto v = internal::ParseYaml(
        "a: yes\nb: true\nc: ~\nd: 012\ne: 0x1F\nf: 1.5e3\ng: .inf\nh: -.Inf\ni: .nan\n"
        "j: 2024-01-02\nk: '5'\nl:\nm: 99999999999999999999\nn: 0o17\n",
        1000);
    ASSERT_TRUE(v.ok()) << v.error().message;
    EXPECT_EQ(ToJson(*v),
              R"({"a":"yes","b":true,"c":null,"d":12,"e":31,"f":1500.0,"g":".inf","h":"-.inf",)"
              R"("i":".nan","j":"2024-01-02","k":"5","l":null,"m":1e+20,"n":15})");
}

TEST(YamlModel, AliasesExpandAndMergeKeyIsOrdinary) {
    auto v = internal::ParseYaml("base: &b {x: 1}\nuse: *b\nother:\n  <<: *b\n", 1000);
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(ToJson(*v), R"({"base":{"x":1},"use":{"x":1},"other":{"<<":{"x":1}}})");
}

TEST(YamlModel, MultipleDocumentsBecomeRootArray) {
    auto v = internal::ParseYaml("a: 1\n---\nb: 2\n", 1000);
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(ToJson(*v), R"([{"a":1},{"b":2}])");
}

TEST(YamlModel, NonStringKeysRenderedAsText) {
    auto v = internal::ParseYaml("1: one\ntrue: yes\nnull: x\n", 1000);
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(ToJson(*v), R"({"1":"one","true":"yes","null":"x"})");
}

TEST(TomlFixture, PyprojectTablesInSourceOrder) {
    Document doc = ParseOk("client_pyproject", json::value(Fixture("pyproject.toml")));
    EXPECT_EQ(doc.format, Format::kToml);
    EXPECT_EQ(Paths(doc), (std::vector<std::string>{"build-system", "project",
                                                    "project.optional-dependencies",
                                                    "project.authors[0]", "tool.ruff"}));
    EXPECT_EQ(NodeAt(doc, "project").text,
              "client pyproject | project | name: contex-client | version: 0.3.0 | description: "
              "Client for the Contex context router | requires-python: >=3.10 | dependencies: "
              "httpx>=0.25, pydantic>=2.4 | released: 2024-03-01");
    EXPECT_EQ(NodeAt(doc, "project.authors[0]").text,
              "client pyproject | project authors | name: Ann Lee | email: ann@example.com");
}

TEST(TomlModel, DatesAndSpecialFloatsAsText) {
    auto v = internal::ParseToml(
        "odt = 1979-05-27T07:32:00Z\noff = 1979-05-27T00:32:00.999-07:00\nld = 1979-05-27\n"
        "lt = 07:32:00\ninf = inf\nnan = nan\nf = 0.5\n");
    ASSERT_TRUE(v.ok()) << v.error().message;
    EXPECT_EQ(ToJson(*v),
              R"({"odt":"1979-05-27T07:32:00Z","off":"1979-05-27T00:32:00.999-07:00",)"
              R"("ld":"1979-05-27","lt":"07:32:00","inf":"inf","nan":"nan","f":0.5})");
}

TEST(XmlFixture, PomDependenciesBecomeArrayNodes) {
    Document doc = ParseOk("inventory_pom", json::value(Fixture("pom.xml")));
    EXPECT_EQ(doc.format, Format::kXml);
    EXPECT_EQ(Paths(doc), (std::vector<std::string>{"project", "project.properties",
                                                    "project.dependencies.dependency[0]",
                                                    "project.dependencies.dependency[1]"}));
    EXPECT_EQ(NodeAt(doc, "project").text,
              "inventory pom | project | @xmlns: http://maven.apache.org/POM/4.0.0 | "
              "modelVersion: 4.0.0 | groupId: com.example | artifactId: inventory-service | "
              "version: 1.2.0");
    EXPECT_EQ(NodeAt(doc, "project.dependencies.dependency[1]").text,
              "inventory pom | project dependencies dependency | @scope: test | groupId: junit | "
              "artifactId: junit | version: 4.13.2");
}

TEST(XmlModel, MixedTextEmptyElementsAndNamespaces) {
    auto v = internal::ParseXml(
        "<?xml version=\"1.0\"?><!-- c --><r a=\"1\">hello <b/> world<ns:c>x</ns:c><?pi x?></r>");
    ASSERT_TRUE(v.ok()) << v.error().message;
    EXPECT_EQ(ToJson(*v), R"({"r":{"@a":"1","b":{},"ns:c":"x","#text":"hello world"}})");
}

TEST(XmlModel, RejectsDoctypeMultipleRootsAndDeepNesting) {
    auto doctype = internal::ParseXml("<!DOCTYPE r SYSTEM \"file:///etc/passwd\"><r/>");
    ASSERT_FALSE(doctype.ok());
    EXPECT_EQ(doctype.error().message, "DOCTYPE declarations are not allowed");
    auto two = internal::ParseXml("<a/><b/>");
    ASSERT_FALSE(two.ok());
    EXPECT_EQ(two.error().message, "more than one root element");
    std::string deep;
    for (int i = 0; i < 70; ++i) deep += "<a>";
    for (int i = 0; i < 70; ++i) deep += "</a>";
    auto d = internal::ParseXml(deep);
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.error().message, "nesting deeper than 64");
}

TEST(SplitRules, KeysNeedingQuotesAreEscapedInPaths) {
    Document doc = ParseOk("config", ParseJson(R"({"a.b":{"port":1,"x":{"y":2}},"":{"z":[1]}})").value());
    EXPECT_EQ(Paths(doc), (std::vector<std::string>{R"(["a.b"])", R"(["a.b"].x)", R"([""])"}));
    EXPECT_EQ(doc.nodes[0].node_key, R"(config["a.b"])");
    EXPECT_EQ(doc.nodes[0].text, "config | a b | port: 1");
}

TEST(SplitRules, EmptyContainersAndNoDataLoss) {
    Document doc = ParseOk("k", ParseJson(R"({"e":{},"a":[],"n":{"m":{}},"arr":[[1,2],[]]})").value());
    EXPECT_EQ(Paths(doc), (std::vector<std::string>{"root", "n", "arr[0]", "arr[1]"}));
    EXPECT_EQ(doc.nodes[0].text, "k | e: {} | a: []");
    EXPECT_EQ(doc.nodes[1].text, "k | n | m: {}");
    EXPECT_EQ(doc.nodes[2].type, NodeType::kArray);
    EXPECT_EQ(doc.nodes[2].text, "k | arr | 1, 2");
    EXPECT_EQ(doc.nodes[3].text, "k | arr");

    Document empty = ParseOk("k", ParseJson("{}").value());
    ASSERT_EQ(empty.nodes.size(), 1u);
    EXPECT_EQ(empty.nodes[0].text, "k");
}

TEST(SplitRules, NumbersRenderShortestRoundTrip) {
    Document doc = ParseOk("k", ParseJson(R"({"a":0.1,"b":-7,"c":1e300,"d":-9223372036854775808})").value());
    EXPECT_EQ(doc.nodes[0].text, "k | a: 0.1 | b: -7 | c: 1e+300 | d: -9223372036854775808");
}

TEST(SplitRules, DepthGuardKeepsSubtreeAsOneLeaf) {
    std::string deep;
    for (int i = 0; i < 40; ++i) deep += R"({"k":)";
    deep += "1";
    for (int i = 0; i < 40; ++i) deep += "}";
    Document doc = ParseOk("d", ParseJson(deep).value());
    ASSERT_EQ(doc.nodes.size(), 1u);
    // 32 levels split away; the object at depth 32 is kept whole (rendered as JSON).
    std::string expected_path = "k";
    for (int i = 1; i < 32; ++i) expected_path += ".k";
    EXPECT_EQ(doc.nodes[0].path, expected_path);
    EXPECT_EQ(doc.nodes[0].type, NodeType::kObject);
    EXPECT_TRUE(doc.nodes[0].text.ends_with(R"(k: {"k":{"k":{"k":{"k":{"k":{"k":{"k":1}}}}}}})"))
        << doc.nodes[0].text;
}

TEST(SplitRules, LongPathsKeepSubtreeAsOneLeaf) {
    std::string key(600, 'x');
    json::object inner;
    inner["leaf"] = json::object{{"v", 1}};
    json::object mid;
    mid[key] = inner;
    json::object top;
    top[key] = mid;
    Document doc = ParseOk("k", json::value(top));
    ASSERT_EQ(doc.nodes.size(), 1u);
    EXPECT_EQ(doc.nodes[0].path, key);
    EXPECT_LE(doc.nodes[0].path.size(), 1024u);
}

TEST(SplitRules, NodeTextIsCappedAt16384Characters) {
    json::object obj;
    obj["big"] = std::string(40000, 'z');
    Document doc = ParseOk("k", json::value(obj));
    ASSERT_EQ(doc.nodes.size(), 1u);
    EXPECT_EQ(doc.nodes[0].text.size(), 16384u);
    EXPECT_EQ(doc.nodes[0].data.at("big").as_string().size(), 40000u);  // data is lossless
}

TEST(Concurrency, ParallelParsesOfAllFormatsAgreeWithSerialOnes) {
    const std::vector<std::pair<std::string, const char*>> inputs = {
        {Fixture("package.json"), "json"},    {Fixture("docker-compose.yml"), nullptr},
        {Fixture("pyproject.toml"), "toml"},  {Fixture("orders.csv"), nullptr},
        {Fixture("pom.xml"), nullptr},        {Fixture("README.md"), nullptr},
        {Fixture("code/lib.rs"), "rust"},     {Fixture("notes.txt"), nullptr}};
    std::vector<std::string> expected;
    auto hint_of = [](const char* h) {
        return h ? std::optional<std::string_view>(h) : std::nullopt;
    };
    for (const auto& [text, hint] : inputs) {
        Document doc = ParseOk("k", json::value(text), hint_of(hint));
        expected.push_back(doc.content_hash + std::to_string(doc.nodes.size()));
    }
    std::vector<std::thread> threads;
    std::vector<int> mismatches(4, 0);
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int round = 0; round < 5; ++round) {
                for (std::size_t i = 0; i < inputs.size(); ++i) {
                    auto r = Parse("k", json::value(inputs[i].first), hint_of(inputs[i].second), {});
                    if (!r.ok() || r->content_hash + std::to_string(r->nodes.size()) != expected[i]) {
                        ++mismatches[t];
                    }
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace contex::ingest
