/**
 * An IP address cut to its network, for tenants that must not store full addresses: the last octet
 * of IPv4 zeroed (`203.0.113.0`), IPv6 kept to its first 48 bits (`2001:db8:85a3::`), the prefixes
 * analytics vendors use. The input is an address validation accepted.
 */
export const anonymizeIp = (ip: string): string => {
  if (!ip.includes(":")) return ip.replace(/\.\d+$/, ".0");
  const [head = "", tail] = ip.split("::");
  const groups = head === "" ? [] : head.split(":");
  // With "::", the groups after it only matter when fewer than three come before.
  if (tail !== undefined && groups.length < 3) groups.push(...Array(8).fill("0"));
  return `${groups
    .slice(0, 3)
    .map((group) => Number.parseInt(group, 16).toString(16))
    .join(":")}::`;
};
