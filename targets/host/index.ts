// The host target: XDP/TC eBPF on Linux hosts (a bluefield DPU runs the same
// datapath through targets/dpu).

export { hostTarget } from './target.ts';
