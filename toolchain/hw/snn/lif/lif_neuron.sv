// The integer LIF update of toolchain/snn/lif.py as RTL: one neuron, one time step,
// combinational, bit for bit `lif_step` (READOUT = 0) or `li_step` (READOUT = 1), in the same
// order as lif.hpp's lif::neuron:
//   1. leak      v1 = v - (v >>> LEAK_SHIFT)                (LEAK_SHIFT = 0: no leak)
//   2. integrate v2 = sat(v1 + cur) if r == 0 else v1     (sat: to the STATE_BITS range)
//   3. fire      spike = v2 >= THRESHOLD and r == 0
//   4. reset     v' = 0 (RESET_ZERO) or v2 - THRESHOLD where it fired, else v2
//   5. count     r' = REFRACTORY where it fired, else max(r - 1, 0)
// The kernels that keep LIF state (the spiking convolution, the readout) instantiate it on the
// word they read from their membrane memory, so the arithmetic exists once in RTL as well.
// Parameters are the ops' node attributes: state_bits, leak_shift, threshold, reset,
// refractory (and the readout's membrane mode); CUR_BITS is the width of the signed current.
module lif_neuron #(
    parameter int STATE_BITS = 24,  // signed membrane width B, 2..32
    parameter int CUR_BITS = 16,  // signed current width, 1..32
    parameter int LEAK_SHIFT = 4,  // 0..STATE_BITS-1
    parameter int THRESHOLD = 128,  // > 0; fits the state unless READOUT
    parameter bit RESET_ZERO = 1'b0,  // 1: reset to 0, 0: subtract THRESHOLD
    parameter int REFRACTORY = 0,  // steps a neuron ignores its input after a spike
    parameter bit READOUT = 1'b0,  // leaky integrator: never fires, no refractory period
    localparam int REF_BITS = REFRACTORY < 2 ? 1 : $clog2(REFRACTORY + 1)
) (
    input  logic signed [  CUR_BITS-1:0] cur,
    input  logic signed [STATE_BITS-1:0] v,
    input  logic        [  REF_BITS-1:0] r,
    output logic signed [STATE_BITS-1:0] v_next,
    output logic        [  REF_BITS-1:0] r_next,
    output logic                         spike
);
  // v1 + cur cannot wrap in this width, whatever the two widths (v1 fits the state).
  localparam int SUM_BITS = (STATE_BITS > CUR_BITS ? STATE_BITS : CUR_BITS) + 2;
  localparam logic signed [SUM_BITS-1:0] HI = {{(SUM_BITS - STATE_BITS + 1) {1'b0}}, {(STATE_BITS - 1) {1'b1}}};
  localparam logic signed [SUM_BITS-1:0] LO = {{(SUM_BITS - STATE_BITS + 1) {1'b1}}, {(STATE_BITS - 1) {1'b0}}};
  // THRESHOLD as a signed number one bit wider than the state: a readout's may exceed it.
  localparam logic signed [STATE_BITS:0] THETA = (STATE_BITS + 1)'(THRESHOLD);

  logic signed [STATE_BITS-1:0] v1, v2, sat;
  logic signed [SUM_BITS-1:0] v1_w, cur_w, sum;
  logic free;

  // `>>>` on a signed operand is arithmetic: floor(v / 2^k), also for negative v.
  if (LEAK_SHIFT > 0) begin : g_leak
    assign v1 = v - (v >>> LEAK_SHIFT);
  end else begin : g_no_leak
    assign v1 = v;
  end

  assign v1_w = SUM_BITS'(v1);  // sign-extending casts of signed operands
  assign cur_w = SUM_BITS'(cur);
  assign sum = v1_w + cur_w;
  assign sat = sum < LO ? LO[STATE_BITS-1:0] : (sum > HI ? HI[STATE_BITS-1:0] : sum[STATE_BITS-1:0]);

  // A readout never fires, so it never becomes refractory; a refractory neuron keeps leaking.
  assign free = READOUT || REFRACTORY == 0 || r == '0;
  assign v2 = free ? sat : v1;
  assign spike = !READOUT && free && ((STATE_BITS + 1)'(v2) >= THETA);
  // v2 >= THRESHOLD > 0 where it fires, so the subtraction cannot leave the range.
  assign v_next = !spike ? v2 : (RESET_ZERO ? '0 : STATE_BITS'((STATE_BITS + 1)'(v2) - THETA));

  if (REFRACTORY > 0 && !READOUT) begin : g_refractory
    assign r_next = spike ? REF_BITS'(REFRACTORY) : (free ? '0 : r - 1'b1);
  end else begin : g_no_refractory
    assign r_next = '0;
  end
endmodule
