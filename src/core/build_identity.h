// The build a process runs, as ranks compare it when they meet: braid's version and the git
// revision it was built from ("braid 0.1.0 (git 83f21a8abcde)"; "-dirty" when built from a
// checkout with changes). Ranks of one communicator must run the same build: the message and
// bootstrap formats change between revisions without a version number of their own.
#pragma once

#include <string>

namespace braid {

const std::string& BuildIdentity();

}  // namespace braid
