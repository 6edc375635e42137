// What UCX selected for an endpoint, asked of UCX itself (ucp_ep_print_info), as a short string
// such as "posix/memory+sysv/memory" or "tcp/eth0". Header-only so that braid-perf's raw UCX
// backend reports its endpoints exactly as braid's transport does, without linking internals.
#pragma once

#include <ucp/api/ucp.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace braid::transport {

inline std::string EndpointTransports(ucp_ep_h ep) {
  // ucp_ep_print_info lists lanes as "lane[0]:  1:tcp/lo.0 md[1] -> ..."; keep "tcp/lo.0".
  char* text = nullptr;
  size_t len = 0;
  FILE* stream = open_memstream(&text, &len);
  if (!stream) return "?";
  ucp_ep_print_info(ep, stream);
  std::fclose(stream);
  std::string tls;
  std::string_view rest(text, len);
  for (size_t at; (at = rest.find("]:  ")) != std::string_view::npos;) {
    rest = rest.substr(at + 4);  // "1:tcp/lo.0 md[1] ..."
    std::string_view tl = rest.substr(0, rest.find(' '));
    tl = tl.substr(tl.find(':') + 1);  // npos + 1 == 0: no index, keep it all
    if (!tl.empty() && tls.find(tl) == std::string::npos) {
      if (!tls.empty()) tls.push_back('+');
      tls.append(tl);
    }
  }
  std::free(text);
  return tls.empty() ? "?" : tls;
}

}  // namespace braid::transport
