// Event-driven spiking convolution in RTL: spiking_conv.hpp's schedule, ONE EVENT PER CYCLE BY
// CONSTRUCTION (docs/snn_hardware.md, "RTL kernels"). A conv LIF layer of toolchain/models/snn.py
// (k x k, 'same' padding, no bias, then lif_step), bit for bit.
//
// Per time step: every input event (position, channel) adds its kernel into the accumulators of
// the K x K output positions it reaches, one event per cycle; after the step's STEP word, a sweep
// of H W / SP cycles takes each position's step current (and clears it), runs the LIF update
// (lif_neuron.sv) on SP positions x CO channels per cycle and sends one word per group of SP
// positions with a spike (the last group's always, carrying STEP). The FRAME word is passed on.
//
// Accumulators: banks (oh mod BH, ow mod BW), BH = K, BW = max(K, SP): an event's K x K outputs
// fall into K x K different banks and a sweep group's SP columns into SP different banks, so each
// bank sees at most one read and one write per cycle. Each bank is a simple dual-port memory
// with a registered read (BRAM or LUTRAM): stage A reads, stage B adds (or clears) and writes.
// The addresses come registered from stage E (computed a stage ahead, for a short read path), so
// the read-to-write distance stays 1: an access in stage A does not see the write stage B makes
// at the same clock edge, so stage B takes the data from the previous write instead when the
// address is the same: the forwarding path (76 % of conv1's consecutive events hit the same word
// on the shipped network). Distance 2 and beyond read the memory after the write. A stall
// (output back-pressure) freezes every stage and the read registers together.
//
// Membranes: SP banks of H W / SP words (CO x STATE_BITS), read in stage B and written in
// stage C of a sweep; during a frame's first step the stored state reads as zero (no clearing
// between frames). The output is a two-entry register slice (m_tdata and a skid register):
// s_tready depends on registers only, not on m_tready, so kernels chain without a long ready
// path. Latency from issue to m_tdata: 6 cycles (rtl.py LATENCY). After reset the accumulators are cleared (ceil(H / BH) x ceil(W / BW)
// cycles, input held off): a reset mid-frame drops that frame's partial sums; the input
// stream then restarts at a frame boundary (the upstream kernel is reset with it).
module spiking_conv #(
    parameter int H = 16,
    parameter int W = 16,
    parameter int CI = 1,
    parameter int CO = 16,
    parameter int K = 5,  // odd
    parameter int IN_LANES = 1,  // input lanes: IN_LANES / CI positions of one row per word
    parameter int SP = 2,  // positions swept per cycle; divides W
    parameter int W_BITS = 8,
    parameter int ACC_BITS = 16,  // the step current (wraps as the HLS kernel's ap_int)
    parameter int STATE_BITS = 24,
    parameter int LEAK_SHIFT = 4,
    parameter int THRESHOLD = 128,
    parameter bit RESET_ZERO = 1'b0,
    parameter int REFRACTORY = 0,
    localparam int BH = K,
    localparam int BW = K > SP ? K : SP,
    // the per-bank weight ROMs (ConvSpec.bank_weights): bank (bh, bw) reads
    // "<WEIGHT_FILE>_<bh * BW + bw>.hex" ($readmemh, relative to the simulator's or synthesis
    // tool's working folder), one line per (ci, h mod BH, w mod BW), row-major, of CO weights
    // with co 0 in the least significant bits (files, not a parameter: Verilator caps parameters
    // at 65,536 bits, and Yosys and Vivado infer ROMs from an initialised array)
    parameter string WEIGHT_FILE = "weights",
    localparam int ADDR_BITS = H * W < 2 ? 1 : $clog2(H * W),
    localparam int IN_BITS = IN_LANES + ADDR_BITS + 3,
    localparam int OUT_BITS = SP * CO + ADDR_BITS + 3
) (
    input  logic                clk,
    input  logic                rst,
    input  logic [ IN_BITS-1:0] s_tdata,
    input  logic                s_tvalid,
    output logic                s_tready,
    output logic [OUT_BITS-1:0] m_tdata,
    output logic                m_tvalid,
    input  logic                m_tready
);
  localparam int P = K / 2;
  localparam int DW = (W + BW - 1) / BW;
  localparam int DEPTH = (H + BH - 1) / BH * DW;
  localparam int GROUPS = H * W / SP;
  localparam int GW = W / SP;  // sweep groups per row
  localparam int AB = DEPTH < 2 ? 1 : $clog2(DEPTH);  // accumulator word address
  localparam int GB = GROUPS < 2 ? 1 : $clog2(GROUPS);  // membrane word address
  localparam int LB = IN_LANES < 2 ? 1 : $clog2(IN_LANES);
  localparam int HB = H < 2 ? 1 : $clog2(H);
  localparam int WB = W < 2 ? 1 : $clog2(W);
  localparam int RHB = $clog2(BH);  // a row residue (BH = K >= 3)
  localparam int RWB = $clog2(BW);  // a column residue
  localparam int RB = REFRACTORY < 2 ? 1 : $clog2(REFRACTORY + 1);
  localparam int BANKS = BH * BW;
  localparam int ROWS = CI * BH * BW;  // a bank's weight ROM: one word of CO weights per (ci, h mod BH, w mod BW)
  localparam int XB = ROWS < 2 ? 1 : $clog2(ROWS);
  localparam int STEP = IN_LANES + ADDR_BITS;  // flag bits of the input word
  localparam int CW = CO * ACC_BITS;  // an accumulator word
  localparam int VW = CO * STATE_BITS;  // a membrane word

  typedef enum logic [1:0] {
    CLEAR,
    EVENTS,
    SWEEP
  } state_e;
  typedef enum logic [1:0] {
    OP_NOP,
    OP_EVENT,
    OP_SWEEP,
    OP_FRAME
  } op_e;

  // Pipeline (every register moves together on `adv`, so a stall freezes it whole):
  //   I  issue: the input word or the rest of the current one, its lowest lane; the sweep counters
  //   E  the event's position -> per bank: output-word address and whether it falls in the plane,
  //      and the weight-ROM row (constant tables and one adder: no divider, no multiplier)
  //   A  accumulator read (registered) and weight-ROM read, from E's registered addresses
  //   B  add or clear and write back (forwarding at distance 1); the sweep's words per lane
  //   C  LIF update of the sweep group (membranes read in B, written here)
  //   O  the output word -> a two-entry register slice (m_tdata, then a skid register)
  // so the deepest logic between registers is one of these steps, not the chain of all of them.

  // ------------------------------------------------------------------ stage I (issue) and control
  state_e state;
  logic adv;  // the pipeline moves: the skid register is empty (a register: s_tready does not follow m_tready)
  logic sk_valid;
  logic [AB-1:0] clr_addr;
  logic [IN_LANES-1:0] mask_r;  // lanes of the current input word still to add
  logic take_r;  // mask_r == 0 as a register of its own: no wide OR before the input select
  logic [ADDR_BITS-1:0] addr_r;
  logic step_r, first;
  logic [HB-1:0] sh;  // sweep row
  logic [WB-1:0] sgc;  // sweep column group (0..GW-1)
  // the same as quotient and residue by the bank grid, kept by counting (no divider in hardware):
  // sh = sh_q * BH + sh_r, sw0 = sgc * SP = sw0_q * BW + sw0_r, the group's first accumulator
  // word sbase = sh_q * DW + sw0_q (rowbase = sh_q * DW), the group index g and its first
  // position gaddr = sh * W + sgc * SP. All are 0 between sweeps (cleared as a sweep ends).
  logic [HB-1:0] sh_r;
  logic [WB-1:0] sw0_r;
  logic [AB-1:0] rowbase, sbase;
  logic [GB-1:0] g;
  logic [ADDR_BITS-1:0] gaddr;

  logic [IN_LANES-1:0] cur_mask, rem_mask, low_lane;
  logic [ADDR_BITS-1:0] cur_addr;
  logic cur_step, cur_frame, cur_bad, cur_any, have_word, from_input;
  logic [LB-1:0] lane;

  assign adv = !sk_valid;
  assign from_input = take_r;
  assign s_tready = adv && state == EVENTS && from_input;
  assign have_word = from_input ? s_tvalid : 1'b1;
  assign cur_mask = from_input ? s_tdata[IN_LANES-1:0] : mask_r;
  assign cur_addr = from_input ? s_tdata[STEP-1:IN_LANES] : addr_r;
  assign cur_step = from_input ? s_tdata[STEP] : step_r;
  assign cur_frame = from_input && s_tdata[STEP+1];
  assign cur_bad = s_tdata[STEP+2];
  assign cur_any = from_input ? s_tdata[IN_LANES-1:0] != '0 : 1'b1;  // mask_r != 0 when not from the input
  // the lowest set lane, isolated and cleared by carry-chain arithmetic (x & -x, x & (x - 1)) and
  // numbered by an OR per index bit: shallower than a priority chain on the mask's loop
  assign low_lane = cur_mask & (~cur_mask + 1'b1);
  assign rem_mask = cur_mask & (cur_mask - 1'b1);
  always_comb begin
    lane = '0;
    for (int l = 0; l < IN_LANES; l++) lane |= low_lane[l] ? LB'(l) : '0;
  end

  // "the issued lane is the word's last" (rem_mask == 0), for the input word and for mask_r side
  // by side, the input select last: each x & (x - 1) == 0 on its own carry chain (a fixed shape:
  // one LUT into the chain, one out, the OR of the word), not after the select
  logic [IN_LANES-1:0] s_mask, s_rest, m_rest;
  logic last_lane;
  assign s_mask = s_tdata[IN_LANES-1:0];
  assign s_rest = s_mask & (s_mask - 1'b1);
  assign m_rest = mask_r & (mask_r - 1'b1);
  assign last_lane = from_input ? s_rest == '0 : m_rest == '0;

  op_e op_i;  // the op stage I issues this cycle
  always_comb begin
    op_i = OP_NOP;
    if (state == SWEEP) op_i = OP_SWEEP;
    else if (state == EVENTS && have_word)
      op_i = cur_frame ? OP_FRAME : (cur_any ? OP_EVENT : OP_NOP);
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      state <= CLEAR;
      clr_addr <= '0;
      mask_r <= '0;
      take_r <= 1'b1;
      addr_r <= '0;
      step_r <= 1'b0;
      first <= 1'b1;
      sh <= '0;
      sgc <= '0;
      {sh_r, sw0_r, rowbase, sbase, g, gaddr} <= '0;
    end else if (state == CLEAR) begin
      clr_addr <= clr_addr + 1'b1;
      if (clr_addr == AB'(DEPTH - 1)) state <= EVENTS;
    end else if (adv) begin
      if (state == EVENTS && have_word) begin
        if (cur_frame) begin
          first <= 1'b1;
        end else begin
          mask_r <= rem_mask;
          take_r <= last_lane;
          addr_r <= cur_addr;
          step_r <= cur_step;
          // the sweep counters are 0 already: only the state is on this path
          if (cur_step && last_lane) state <= SWEEP;
        end
      end else if (state == SWEEP) begin
        g <= g + 1'b1;
        gaddr <= gaddr + ADDR_BITS'(SP);
        if (sgc == WB'(GW - 1)) begin
          sgc <= '0;
          sw0_r <= '0;
          sh <= sh + 1'b1;
          if (sh_r == HB'(BH - 1)) begin
            sh_r <= '0;
            rowbase <= rowbase + AB'(DW);
            sbase <= rowbase + AB'(DW);
          end else begin
            sh_r <= sh_r + 1'b1;
            sbase <= rowbase;
          end
          if (sh == HB'(H - 1)) begin  // the sweep's last group: the counters back to 0
            state <= EVENTS;
            first <= 1'b0;
            sh <= '0;
            {sh_r, rowbase, sbase, g, gaddr} <= '0;
          end
        end else begin
          sgc <= sgc + 1'b1;
          if (int'(sw0_r) + SP >= BW) begin  // SP <= BW: at most one wrap
            sw0_r <= WB'(int'(sw0_r) + SP - BW);
            sbase <= sbase + 1'b1;
          end else begin
            sw0_r <= WB'(int'(sw0_r) + SP);
          end
        end
      end
    end
  end

  // I -> E registers
  op_e op_e_r;
  logic first_e, bad_e, last_e;
  logic [ADDR_BITS-1:0] addr_e, gaddr_e;
  logic [LB-1:0] lane_e;
  logic [HB-1:0] sh_r_e;
  logic [WB-1:0] sw0_r_e;
  logic [AB-1:0] sbase_e;
  logic [GB-1:0] g_e;
  always_ff @(posedge clk) begin
    if (rst) op_e_r <= OP_NOP;
    else if (adv) op_e_r <= state == CLEAR ? OP_NOP : op_i;
    if (adv) begin
      first_e <= first;
      bad_e <= cur_bad;
      last_e <= int'(sh) == H - 1 && int'(sgc) == GW - 1;
      addr_e <= cur_addr;
      lane_e <= lane;
      gaddr_e <= gaddr;
      {sh_r_e, sw0_r_e, sbase_e, g_e} <= {sh_r, sw0_r, sbase, g};
    end
  end

  // ------------------------------------------------------------------ stage E (addresses)
  // The event's position p = the word's first position + the lane's (a word's positions never
  // leave its row); everything that depends on p alone comes from constant tables indexed by it
  // (computed at elaboration: no divider, no multiplier, and one table read instead of a chain
  // of residue arithmetic and plane-edge compares: the short path the 250 MHz budget asks for).
  // The weight-ROM row (ci BH + h mod BH) BW + w mod BW is the sum of two table entries: written
  // as a product of run-time values, Yosys maps it to a DSP48E2 (the kernel must use none).
  logic [LB-1:0] pos_of[IN_LANES];
  logic [XB-1:0] wrow_ch_of[IN_LANES], wrow_p_of[H*W];
  for (genvar x = 0; x < IN_LANES; x++) begin : g_lane_rom
    assign pos_of[x] = LB'(x / CI);
    assign wrow_ch_of[x] = XB'((x % CI) * BH * BW);
  end
  for (genvar x = 0; x < H * W; x++) begin : g_wrow_rom
    assign wrow_p_of[x] = XB'((x / W % BH) * BW + x % W % BW);
  end
  logic [ADDR_BITS-1:0] p_e;
  assign p_e = addr_e + ADDR_BITS'(pos_of[lane_e]);

  // E -> A registers (the per-bank addresses are in the bank blocks below)
  op_e op_a;
  logic first_a, bad_a, last_a;
  logic [ADDR_BITS-1:0] gaddr_a;
  logic [GB-1:0] g_a;
  logic [XB-1:0] wsel_a;  // the event's weight-ROM row
  logic [RHB-1:0] sh_r_a;
  int sw0_r_a;
  always_ff @(posedge clk) begin
    if (rst) op_a <= OP_NOP;
    else if (adv) op_a <= op_e_r;
    if (adv) begin
      {first_a, bad_a, last_a, gaddr_a, g_a} <= {first_e, bad_e, last_e, gaddr_e, g_e};
      wsel_a <= wrow_ch_of[lane_e] + wrow_p_of[p_e];
      sh_r_a <= RHB'(sh_r_e);
      sw0_r_a <= int'(sw0_r_e);
    end
  end

  // A -> B registers
  op_e op_b;
  logic first_b, bad_b, last_b;
  logic [ADDR_BITS-1:0] gaddr_b;
  logic [GB-1:0] g_b;
  logic [RHB-1:0] sh_r_b;  // the sweep group's row residue
  int sw0_r_b;  // and first column residue
  always_ff @(posedge clk) begin
    if (rst) op_b <= OP_NOP;
    else if (adv) op_b <= op_a;
    if (adv) {first_b, bad_b, last_b, gaddr_b, g_b, sh_r_b, sw0_r_b} <=
        {first_a, bad_a, last_a, gaddr_a, g_a, sh_r_a, sw0_r_a};
  end

  // ------------------------------------------------------------------ accumulator banks
  logic [CW-1:0] bank_q[BANKS];  // stage B: each bank's word (forwarded where stage B just wrote it)
  logic [CW-1:0] bank_rc[BH][BW];  // the same by bank row and column: the sweep selects without an index product

  for (genvar bh = 0; bh < BH; bh++) begin : g_bh
    for (genvar bw = 0; bw < BW; bw++) begin : g_bw
      localparam int B = bh * BW + bw;
      localparam string ROM_FILE = $sformatf("%s_%0d.hex", WEIGHT_FILE, B);
      logic [CW-1:0] mem[DEPTH];
      logic [CW-1:0] rd_q, fwd_data, wdata;
      logic [AB-1:0] raddr_e, raddr_a, addr_b, waddr;
      logic ren_e, ren_a, hit_b, fwd_hit, wen;
      logic [CO*W_BITS-1:0] wrom[ROWS], wt_b;  // wt_b: the event's weights for this bank, in stage B
      initial $readmemh(ROM_FILE, wrom);

      // stage E: the accumulator word this bank holds for the event at position x, if the
      // event reaches one of its outputs in the plane (bit AB): output row oh = bh mod BH in
      // [h - P, h + P] (one, as BH = K), output column ow = bw mod BW in [w - P, w + P] (at
      // most one, as BW >= K), word (oh / BH) DW + ow / BW; a table of the position
      logic [AB:0] ev_of[H*W];
      for (genvar x = 0; x < H * W; x++) begin : g_ev_rom
        localparam int EH = x / W, EW = x % W;
        localparam int OH = EH - P + ((bh - (EH - P)) % BH + BH) % BH;
        localparam int OW = EW - P + ((bw - (EW - P)) % BW + BW) % BW;
        localparam bit HIT = OW <= EW + P && OH >= 0 && OH < H && OW >= 0 && OW < W;
        assign ev_of[x] = HIT ? {1'b1, AB'((OH < 0 ? 0 : OH) / BH * DW + (OW < 0 ? 0 : OW) / BW)} : '0;
      end
      // or the sweep group's word: the lane j = (bw - sw0_r) mod BW lands in this bank's column
      // residue; its word is the group's first (sbase) or the next (when bw < sw0_r: past the wrap)
      int tj, j;
      always_comb begin
        tj = bw - int'(sw0_r_e);
        j = tj < 0 ? tj + BW : tj;
        ren_e = 1'b0;
        raddr_e = '0;
        if (op_e_r == OP_EVENT && ev_of[p_e][AB]) begin
          ren_e = 1'b1;
          raddr_e = ev_of[p_e][AB-1:0];
        end else if (op_e_r == OP_SWEEP && int'(sh_r_e) == bh && j < SP) begin
          ren_e = 1'b1;
          raddr_e = sbase_e + AB'(bw < int'(sw0_r_e));
        end
      end

      always_ff @(posedge clk) begin
        if (rst) begin
          ren_a <= 1'b0;
          hit_b <= 1'b0;
          fwd_hit <= 1'b0;
        end else if (adv || state == CLEAR) begin
          ren_a <= ren_e;  // E -> A
          raddr_a <= raddr_e;
          if (ren_a) rd_q <= mem[raddr_a];  // A -> B
          hit_b <= ren_a;
          addr_b <= raddr_a;
          wt_b <= wrom[wsel_a];
          if (wen) mem[waddr] <= wdata;
          // the forwarding test a stage early (stage A's address against the word stage B writes
          // now), registered: only a 2 : 1 select before the adder and the sweep's bank select
          fwd_hit <= wen && waddr == raddr_a;
          fwd_data <= wdata;
        end
      end

      // stage B: the word as of now (the forwarding path), then its write
      assign bank_q[B] = fwd_hit ? fwd_data : rd_q;
      assign bank_rc[bh][bw] = bank_q[B];
      always_comb begin
        wen = 1'b0;
        waddr = addr_b;
        wdata = '0;
        if (state == CLEAR) begin
          wen = 1'b1;
          waddr = clr_addr;
        end else if (hit_b && op_b == OP_EVENT) begin
          wen = 1'b1;
          for (int co = 0; co < CO; co++)
            wdata[co*ACC_BITS+:ACC_BITS] = bank_q[B][co*ACC_BITS+:ACC_BITS]
                + ACC_BITS'($signed(wt_b[co*W_BITS+:W_BITS]));
        end else if (hit_b && op_b == OP_SWEEP) begin
          wen = 1'b1;  // the sweep takes the step's current and clears it
        end
      end
    end
  end

  // ------------------------------------------------------------------ membranes and LIF (stage C)
  // B -> C registers
  op_e op_c;
  logic first_c, bad_c, last_c;
  logic [ADDR_BITS-1:0] gaddr_c;
  logic [GB-1:0] g_c;
  always_ff @(posedge clk) begin
    if (rst) op_c <= OP_NOP;
    else if (adv) op_c <= op_b;
    if (adv) {first_c, bad_c, last_c, gaddr_c, g_c} <= {first_b, bad_b, last_b, gaddr_b, g_b};
  end

  logic [SP*CO-1:0] spikes;
  for (genvar j = 0; j < SP; j++) begin : g_sp
    logic [VW-1:0] vmem[GROUPS];
    logic [VW-1:0] v_q, v_new;
    logic [CO*RB-1:0] r_q, r_new;
    logic [CW-1:0] cur_c;
    logic [RWB-1:0] col_r;

    // a group's membranes are read in B and written in C: the next read of the same group is a
    // whole sweep later (GROUPS >= 2 cycles), so no forwarding is needed here
    assign col_r = RWB'(sw0_r_b + j >= BW ? sw0_r_b + j - BW : sw0_r_b + j);
    always_ff @(posedge clk) begin
      // row, column: sh_r_b * BW + col_r as an index would be a product Yosys maps to a DSP48E2
      if (adv) cur_c <= bank_rc[sh_r_b][col_r];
      if (adv && op_b == OP_SWEEP) v_q <= vmem[g_b];
      if (adv && op_c == OP_SWEEP) vmem[g_c] <= v_new;
    end
    if (REFRACTORY > 0) begin : g_ref
      logic [CO*RB-1:0] rmem[GROUPS];
      always_ff @(posedge clk) begin
        if (adv && op_b == OP_SWEEP) r_q <= rmem[g_b];
        if (adv && op_c == OP_SWEEP) rmem[g_c] <= r_new;
      end
    end else begin : g_no_ref
      logic unused_r;  // no refractory period: the neurons' counters stay 0 (Verilator skips *unused*)
      assign r_q = '0;
      assign unused_r = ^r_new;
    end

    for (genvar co = 0; co < CO; co++) begin : g_co
      lif_neuron #(
          .STATE_BITS(STATE_BITS),
          .CUR_BITS(ACC_BITS),
          .LEAK_SHIFT(LEAK_SHIFT),
          .THRESHOLD(THRESHOLD),
          .RESET_ZERO(RESET_ZERO),
          .REFRACTORY(REFRACTORY),
          .READOUT(1'b0)
      ) u_lif (
          .cur(cur_c[co*ACC_BITS+:ACC_BITS]),
          .v(first_c ? '0 : v_q[co*STATE_BITS+:STATE_BITS]),
          .r(first_c ? '0 : r_q[co*RB+:RB]),
          .v_next(v_new[co*STATE_BITS+:STATE_BITS]),
          .r_next(r_new[co*RB+:RB]),
          .spike(spikes[j*CO+co])
      );
    end
  end

  // ------------------------------------------------------------------ stage O, register slice
  op_e op_o;
  logic bad_o, last_o;
  logic [ADDR_BITS-1:0] gaddr_o;
  logic [SP*CO-1:0] spikes_o;
  always_ff @(posedge clk) begin
    if (rst) op_o <= OP_NOP;
    else if (adv) op_o <= op_c;
    if (adv) {bad_o, last_o, gaddr_o, spikes_o} <= {bad_c, last_c, gaddr_c, spikes};
  end

  logic o_valid;
  logic [OUT_BITS-1:0] o_data, sk_data;
  always_comb begin
    o_valid = 1'b0;
    o_data = {1'b0, 1'b0, last_o, gaddr_o, spikes_o};
    if (op_o == OP_FRAME) begin
      o_data = {bad_o, 1'b1, 1'b0, {ADDR_BITS{1'b0}}, {SP * CO{1'b0}}};
      o_valid = 1'b1;
    end else if (op_o == OP_SWEEP && (spikes_o != '0 || last_o)) begin
      o_valid = 1'b1;
    end
  end
  // m_tdata, then a skid register that takes the word the pipeline made while m_tdata stalled;
  // the pipeline moves only while the skid register is empty
  always_ff @(posedge clk) begin
    if (rst) begin
      m_tvalid <= 1'b0;
      sk_valid <= 1'b0;
      m_tdata <= '0;
    end else if (!m_tvalid || m_tready) begin
      if (sk_valid) begin
        m_tdata <= sk_data;
        m_tvalid <= 1'b1;
        sk_valid <= 1'b0;
      end else begin
        m_tdata <= o_data;
        m_tvalid <= o_valid;
      end
    end else if (adv && o_valid) begin
      sk_data <= o_data;
      sk_valid <= 1'b1;
    end
  end
endmodule
