#include "bootstrap/interface.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <sstream>

#include "core/env.h"
#include "core/log.h"

namespace braid::bootstrap {
namespace {

std::vector<std::string> SplitCommas(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  for (std::string part; std::getline(stream, part, ',');)
    if (!part.empty()) parts.push_back(part);
  return parts;
}

}  // namespace

std::vector<InterfaceAddress> UpIPv4Interfaces() {
  std::vector<InterfaceAddress> found;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return found;
  for (const ifaddrs* ifa = list; ifa; ifa = ifa->ifa_next) {
    if (ifa->ifa_addr == nullptr || ifa->ifa_addr->sa_family != AF_INET) continue;
    if ((ifa->ifa_flags & IFF_UP) == 0) continue;
    char text[INET_ADDRSTRLEN] = {0};
    const auto* in = reinterpret_cast<const sockaddr_in*>(ifa->ifa_addr);
    if (inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text)))
      found.push_back({ifa->ifa_name, text, (ifa->ifa_flags & IFF_LOOPBACK) != 0});
  }
  freeifaddrs(list);
  return found;
}

bool InterfaceSelected(const std::string& spec, const std::string& name, bool loopback) {
  std::string rest = spec;
  const bool exclude = !rest.empty() && rest.front() == '^';
  if (exclude) rest.erase(0, 1);
  const bool exact = !rest.empty() && rest.front() == '=';
  if (exact) rest.erase(0, 1);
  std::vector<std::string> names = SplitCommas(rest);
  if (names.empty()) return !loopback;  // "" (or a bare "^"): any non-loopback interface
  bool listed = false;
  for (const std::string& n : names)
    listed = listed || (exact ? name == n : name.compare(0, n.size(), n) == 0);
  return exclude ? !listed && !loopback : listed;
}

Status PickInterface(const std::string& spec, const std::vector<InterfaceAddress>& up,
                     InterfaceAddress* out) {
  for (const InterfaceAddress& i : up) {
    if (InterfaceSelected(spec, i.name, i.loopback)) {
      *out = i;
      return Status::Ok();
    }
  }
  std::string have;
  for (const InterfaceAddress& i : up) have += fmt::format("{}{} ({})", have.empty() ? "" : ", ", i.name, i.ipv4);
  return Status::InvalidArgument(fmt::format("{}='{}' selects none of the up IPv4 interfaces: {}",
                                             env::VariableName("SOCKET_IFNAME"), spec,
                                             have.empty() ? "there are none" : have));
}

Status AdvertisedAddress(std::string* ipv4) {
  std::vector<InterfaceAddress> up = UpIPv4Interfaces();
  std::optional<std::string> spec = env::Get("SOCKET_IFNAME");
  InterfaceAddress pick;
  if (spec) {
    // A prefix marker or separators alone ("^", "=", ",") would quietly mean "any interface".
    std::string names = *spec;
    if (!names.empty() && names.front() == '^') names.erase(0, 1);
    if (!names.empty() && names.front() == '=') names.erase(0, 1);
    if (SplitCommas(names).empty()) {
      return Status::InvalidArgument(fmt::format("{}='{}' names no interface (e.g. eth0, ^docker,lo or =ib0)",
                                                 env::VariableName("SOCKET_IFNAME"), *spec));
    }
    BRAID_RETURN_IF_ERROR(PickInterface(*spec, up, &pick));
  } else if (!PickInterface("", up, &pick).ok()) {
    pick = {"lo", "127.0.0.1", true};  // no network at all: only this host can join
  }
  BRAID_INFO(kBoot, "bootstrap root advertises {} ({}{})", pick.ipv4, pick.name,
             spec ? ", chosen by " + env::VariableName("SOCKET_IFNAME") + "=" + *spec : "");
  *ipv4 = pick.ipv4;
  return Status::Ok();
}

}  // namespace braid::bootstrap
