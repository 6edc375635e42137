// Topology fixtures shared by the unit and fuzz tiers.
#pragma once

namespace braid::test {

// A two-socket host: a ConnectX HCA (ib0 + mlx5_0) on package 0, an H100 (as hwloc's CUDA
// backend describes it) on package 1, and on the machine's own host bridge a BMC's Matrox VGA,
// which is not a GPU, and an Ethernet port whose locality is unknown. Checked with
// `lstopo-no-graphics --input`.
constexpr const char* kTwoSocketXml = R"(<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE topology SYSTEM "hwloc2.dtd">
<topology version="2.0">
  <object type="Machine" os_index="0" cpuset="0x00000003" complete_cpuset="0x00000003" allowed_cpuset="0x00000003" nodeset="0x00000003" complete_nodeset="0x00000003" allowed_nodeset="0x00000003" gp_index="1">
    <info name="HostName" value="fakehost"/>
    <object type="Package" os_index="0" cpuset="0x00000001" complete_cpuset="0x00000001" nodeset="0x00000001" complete_nodeset="0x00000001" gp_index="2">
      <info name="CPUModel" value="Fake CPU 9000"/>
      <object type="NUMANode" os_index="0" cpuset="0x00000001" complete_cpuset="0x00000001" nodeset="0x00000001" complete_nodeset="0x00000001" gp_index="3" local_memory="17179869184"/>
      <object type="Core" os_index="0" cpuset="0x00000001" complete_cpuset="0x00000001" nodeset="0x00000001" complete_nodeset="0x00000001" gp_index="4">
        <object type="PU" os_index="0" cpuset="0x00000001" complete_cpuset="0x00000001" nodeset="0x00000001" complete_nodeset="0x00000001" gp_index="5"/>
      </object>
      <object type="Bridge" gp_index="20" bridge_type="0-1" depth="0" bridge_pci="0000:[10-10]">
        <object type="PCIDev" gp_index="21" pci_busid="0000:10:00.0" pci_type="0207 [15b3:101b] [15b3:0007] 00" pci_link_speed="31.507692">
          <object type="OSDev" gp_index="22" name="ib0" osdev_type="2">
            <info name="Address" value="00:00:10:87:fe:80:00:00:00:00:00:00:b8:ce:f6:03:00:33:44:55"/>
          </object>
          <object type="OSDev" gp_index="23" name="mlx5_0" osdev_type="3">
            <info name="NodeGUID" value="b8ce:f603:0033:4455"/>
          </object>
        </object>
      </object>
    </object>
    <object type="Package" os_index="1" cpuset="0x00000002" complete_cpuset="0x00000002" nodeset="0x00000002" complete_nodeset="0x00000002" gp_index="6">
      <info name="CPUModel" value="Fake CPU 9000"/>
      <object type="NUMANode" os_index="1" cpuset="0x00000002" complete_cpuset="0x00000002" nodeset="0x00000002" complete_nodeset="0x00000002" gp_index="7" local_memory="17179869184"/>
      <object type="Core" os_index="1" cpuset="0x00000002" complete_cpuset="0x00000002" nodeset="0x00000002" complete_nodeset="0x00000002" gp_index="8">
        <object type="PU" os_index="1" cpuset="0x00000002" complete_cpuset="0x00000002" nodeset="0x00000002" complete_nodeset="0x00000002" gp_index="9"/>
      </object>
      <object type="Bridge" gp_index="30" bridge_type="0-1" depth="0" bridge_pci="0000:[80-80]">
        <object type="PCIDev" gp_index="31" pci_busid="0000:80:00.0" pci_type="0302 [10de:2330] [10de:16c1] a1" pci_link_speed="63.015385">
          <object type="OSDev" gp_index="32" name="cuda0" osdev_type="5">
            <info name="CoProcType" value="CUDA"/>
            <info name="Backend" value="CUDA"/>
            <info name="GPUModel" value="NVIDIA H100 80GB HBM3"/>
            <info name="CUDAGlobalMemorySize" value="83468288"/>
          </object>
        </object>
      </object>
    </object>
    <object type="Bridge" gp_index="40" bridge_type="0-1" depth="0" bridge_pci="0000:[00-00]">
      <object type="PCIDev" gp_index="41" pci_busid="0000:00:05.0" pci_type="0300 [102b:0522] [102b:0522] 02" pci_link_speed="0.000000"/>
      <object type="PCIDev" gp_index="42" pci_busid="0000:00:06.0" pci_type="0200 [8086:1572] [8086:0000] 01" pci_link_speed="0.000000">
        <object type="OSDev" gp_index="43" name="eno1" osdev_type="2">
          <info name="Address" value="3c:fd:fe:00:11:22"/>
        </object>
      </object>
    </object>
  </object>
</topology>
)";

}  // namespace braid::test
