// The host target: XDP/TC eBPF on Linux hosts (and, until they have their
// own, DPUs and SmartNICs, which run the same datapath).

export { hostTarget } from './target.ts';
