// The DPU/SmartNIC target: an offloadable XDP prefilter (nfp, generic) or the
// host datapath on the DPU's own Linux with flower rules for its embedded
// switch (bluefield).

export { dpuTarget } from './target.ts';
