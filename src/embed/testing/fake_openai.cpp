#include "embed/testing/fake_openai.hpp"

#include "common/json.hpp"
#include "embed/lexical_embedder.hpp"

namespace contex::embed::testing {

FakeResponse FakeOpenAiEmbeddings(const FakeRequest& request) {
    auto parsed = ParseJson(request.body);
    if (!parsed.ok() || !parsed->is_object() || !parsed->as_object().contains("input")) {
        return {400, {}, R"({"error":"bad request"})", std::nullopt};
    }
    const auto& input = parsed->as_object().at("input").as_array();
    json::array data;
    for (std::size_t i = input.size(); i-- > 0;) {
        Vector v = LexicalEmbedder::EmbedOne(input[i].as_string());
        v[0] += 0.01f;  // never a zero vector, even for token-less text
        json::array emb;
        for (const float x : v) emb.emplace_back(static_cast<double>(x) * 2.5);
        json::object item;
        item["object"] = "embedding";
        item["index"] = static_cast<std::int64_t>(i);
        item["embedding"] = std::move(emb);
        data.emplace_back(std::move(item));
    }
    json::object body;
    body["object"] = "list";
    body["data"] = std::move(data);
    return {200, {{"Content-Type", "application/json"}}, ToJson(body), std::nullopt};
}

}  // namespace contex::embed::testing
