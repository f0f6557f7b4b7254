// A handler for FakeHttpServer that behaves like an OpenAI-compatible embeddings endpoint:
// vectors are the lexical embedding of each input scaled by 2.5 (so clients must
// re-normalise), returned in reverse order with explicit indexes. Test-only.
#pragma once

#include "embed/testing/fake_http_server.hpp"

namespace contex::embed::testing {

FakeResponse FakeOpenAiEmbeddings(const FakeRequest& request);

}  // namespace contex::embed::testing
