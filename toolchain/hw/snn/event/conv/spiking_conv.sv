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
// An access in stage A does not see the write stage B makes at the same clock edge (distance
// 1), so stage B takes the data from the previous write instead when the address is the same:
// the forwarding path (76 % of conv1's consecutive events hit the same word on the shipped
// network). Distance 2 and beyond read the memory after the write. A stall (output back-
// pressure) freezes both stages and the read registers together.
//
// Membranes: SP banks of H W / SP words (CO x STATE_BITS), read in stage A and written in
// stage B of a sweep; during a frame's first step the stored state reads as zero (no clearing
// between frames). After reset the accumulators are cleared (ceil(H / BH) x ceil(W / BW)
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
    // the per-bank weight ROMs [bh][bw][ci][h mod BH][w mod BW][co] (ConvSpec.bank_weights), row-major,
    // entry 0 in the least significant bits
    parameter logic [BH*BW*CI*BH*BW*CO*W_BITS-1:0] WEIGHTS = '0,
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
  localparam int RB = REFRACTORY < 2 ? 1 : $clog2(REFRACTORY + 1);
  localparam int BANKS = BH * BW;
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

  // ------------------------------------------------------------------ control (stage A)
  state_e state;
  logic adv;  // the pipeline moves: the output register is free or drained this cycle
  logic [AB-1:0] clr_addr;
  logic [IN_LANES-1:0] mask_r;  // lanes of the current input word still to add
  logic [ADDR_BITS-1:0] addr_r;
  logic step_r, first;
  logic [HB-1:0] sh;  // sweep row
  logic [WB-1:0] sgc;  // sweep column group (0..GW-1)
  // the same as quotient and residue by the bank grid, kept by counting (no divider in hardware):
  // sh = sh_q * BH + sh_r, sw0 = sgc * SP = sw0_q * BW + sw0_r, and the group index g
  logic [HB-1:0] sh_q, sh_r;
  logic [WB-1:0] sw0_q, sw0_r;
  logic [GB-1:0] g;

  logic [IN_LANES-1:0] cur_mask, rem_mask;
  logic [ADDR_BITS-1:0] cur_addr;
  logic cur_step, cur_frame, cur_bad, have_word, from_input;
  logic [LB-1:0] lane;

  assign adv = !m_tvalid || m_tready;
  assign from_input = mask_r == '0;
  assign s_tready = adv && state == EVENTS && from_input;
  assign have_word = from_input ? s_tvalid : 1'b1;
  assign cur_mask = from_input ? s_tdata[IN_LANES-1:0] : mask_r;
  assign cur_addr = from_input ? s_tdata[STEP-1:IN_LANES] : addr_r;
  assign cur_step = from_input ? s_tdata[STEP] : step_r;
  assign cur_frame = from_input && s_tdata[STEP+1];
  assign cur_bad = s_tdata[STEP+2];

  always_comb begin  // the lowest set lane: a priority encoder, not on any loop-carried path
    lane = '0;
    for (int l = IN_LANES - 1; l >= 0; l--) if (cur_mask[l]) lane = LB'(l);
  end
  assign rem_mask = cur_mask & ~(IN_LANES'(1) << lane);

  // the op stage A issues this cycle
  op_e op_a;
  always_comb begin
    op_a = OP_NOP;
    if (state == SWEEP) op_a = OP_SWEEP;
    else if (state == EVENTS && have_word)
      op_a = cur_frame ? OP_FRAME : (cur_mask != '0 ? OP_EVENT : OP_NOP);
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      state <= CLEAR;
      clr_addr <= '0;
      mask_r <= '0;
      addr_r <= '0;
      step_r <= 1'b0;
      first <= 1'b1;
      sh <= '0;
      sgc <= '0;
      {sh_q, sh_r, sw0_q, sw0_r, g} <= '0;
    end else if (state == CLEAR) begin
      clr_addr <= clr_addr + 1'b1;
      if (clr_addr == AB'(DEPTH - 1)) state <= EVENTS;
    end else if (adv) begin
      if (state == EVENTS && have_word) begin
        if (cur_frame) begin
          first <= 1'b1;
        end else begin
          mask_r <= cur_mask == '0 ? '0 : rem_mask;
          addr_r <= cur_addr;
          step_r <= cur_step;
          if (cur_step && (cur_mask == '0 || rem_mask == '0)) begin
            state <= SWEEP;
            sh <= '0;
            sgc <= '0;
            {sh_q, sh_r, sw0_q, sw0_r, g} <= '0;
          end
        end
      end else if (state == SWEEP) begin
        g <= g + 1'b1;
        if (sgc == WB'(GW - 1)) begin
          sgc <= '0;
          sw0_q <= '0;
          sw0_r <= '0;
          sh <= sh + 1'b1;
          if (sh_r == HB'(BH - 1)) begin
            sh_r <= '0;
            sh_q <= sh_q + 1'b1;
          end else begin
            sh_r <= sh_r + 1'b1;
          end
          if (sh == HB'(H - 1)) begin
            state <= EVENTS;
            first <= 1'b0;
          end
        end else begin
          sgc <= sgc + 1'b1;
          if (int'(sw0_r) + SP >= BW) begin  // SP <= BW: at most one wrap
            sw0_r <= WB'(int'(sw0_r) + SP - BW);
            sw0_q <= sw0_q + 1'b1;
          end else begin
            sw0_r <= WB'(int'(sw0_r) + SP);
          end
        end
      end
    end
  end

  // The event's position and channel, and their quotients and residues by the bank grid, from
  // constant tables (the divisions happen at elaboration: no divider in hardware).
  logic [HB-1:0] row_of[H*W], hq_of[H], hr_of[H];
  logic [WB-1:0] col_of[H*W], wq_of[W], wr_of[W];
  logic [LB-1:0] pos_of[IN_LANES], ch_of[IN_LANES];
  for (genvar x = 0; x < H * W; x++) begin : g_addr_rom
    assign row_of[x] = HB'(x / W);
    assign col_of[x] = WB'(x % W);
  end
  for (genvar x = 0; x < H; x++) begin : g_h_rom
    assign hq_of[x] = HB'(x / BH);
    assign hr_of[x] = HB'(x % BH);
  end
  for (genvar x = 0; x < W; x++) begin : g_w_rom
    assign wq_of[x] = WB'(x / BW);
    assign wr_of[x] = WB'(x % BW);
  end
  for (genvar x = 0; x < IN_LANES; x++) begin : g_lane_rom
    assign pos_of[x] = LB'(x / CI);
    assign ch_of[x] = LB'(x % CI);
  end
  int ev_h, ev_w, ev_c, h_q, h_r, w_q, w_r;
  logic [WB-1:0] ev_col;
  always_comb begin
    ev_col = col_of[cur_addr] + WB'(pos_of[lane]);  // a word's positions never leave its row
    ev_h = int'(row_of[cur_addr]);
    ev_w = int'(ev_col);
    ev_c = int'(ch_of[lane]);
    h_q = int'(hq_of[row_of[cur_addr]]);
    h_r = int'(hr_of[row_of[cur_addr]]);
    w_q = int'(wq_of[ev_col]);
    w_r = int'(wr_of[ev_col]);
  end
  int sw0;  // the sweep group's first column
  assign sw0 = int'(sgc) * SP;

  // ------------------------------------------------------------------ accumulator banks
  logic [CW-1:0] bank_q[BANKS];  // stage B: each bank's word (forwarded where stage B just wrote it)

  // stage B registers
  op_e op_b;
  logic first_b, last_b, bad_b;
  logic [ADDR_BITS-1:0] gaddr_b;  // the sweep group's first position
  logic [GB-1:0] g_b;
  int sh_r_b, sw0_r_b;  // the sweep group's row residue and first column residue

  for (genvar bh = 0; bh < BH; bh++) begin : g_bh
    for (genvar bw = 0; bw < BW; bw++) begin : g_bw
      localparam int B = bh * BW + bw;
      logic [CW-1:0] mem[DEPTH];
      logic [CW-1:0] rd_q, fwd_data, wdata;
      logic [AB-1:0] raddr, addr_b, fwd_addr, waddr;
      logic ren, hit_b, fwd_en, wen;
      logic [CW-1:0] wt_b;  // the event's weights for this bank, registered into stage B
      // this bank's weight ROM: one word of CO weights per (channel, h mod BH, w mod BW)
      localparam int ROWS = CI * BH * BW;
      logic [CO*W_BITS-1:0] wrom[ROWS], wrow;
      for (genvar x = 0; x < ROWS; x++) begin : g_wrom
        assign wrom[x] = WEIGHTS[(B*ROWS+x)*CO*W_BITS+:CO*W_BITS];
      end
      assign wrow = wrom[(ev_c*BH+h_r)*BW+w_r];

      // stage A: the output position this bank holds for the event, or for the sweep group
      int dh, dw, oh, ow, j, tdh, tdw, tj;
      logic [AB-1:0] a_ev;
      logic skip;
      always_comb begin
        // dh = (bh - h_r + P) mod BH by one conditional correction (the operands are residues)
        tdh = bh + P - h_r;
        dh = tdh < 0 ? tdh + BH : (tdh >= BH ? tdh - BH : tdh);
        tdw = bw + P - w_r;
        dw = tdw < 0 ? tdw + BW : (tdw >= BW ? tdw - BW : tdw);
        oh = ev_h - P + dh;
        ow = ev_w - P + dw;
        skip = dw >= K || oh < 0 || oh >= H || ow < 0 || ow >= W;
        // oh = (h_q + m) BH + bh with m in {-1, 0, 1} (oh mod BH is bh by construction); so for ow
        a_ev = skip ? '0 : AB'((h_q + (h_r - P + dh > bh ? 1 : (h_r - P + dh < bh ? -1 : 0))) * DW
                               + w_q + (w_r - P + dw > bw ? 1 : (w_r - P + dw < bw ? -1 : 0)));
        // the sweep lane that lands in this bank's column residue: (bw - sw0_r) mod BW
        tj = bw - int'(sw0_r);
        j = tj < 0 ? tj + BW : tj;
        ren = 1'b0;
        raddr = '0;
        if (op_a == OP_EVENT && !skip) begin
          ren = 1'b1;
          raddr = a_ev;
        end else if (op_a == OP_SWEEP && int'(sh_r) == bh && j < SP) begin
          ren = 1'b1;
          raddr = AB'(int'(sh_q) * DW + int'(sw0_q) + (int'(sw0_r) + j >= BW ? 1 : 0));
        end
      end

      always_ff @(posedge clk) begin
        if (rst) begin
          hit_b <= 1'b0;
          fwd_en <= 1'b0;
        end else if (adv || state == CLEAR) begin
          if (ren) rd_q <= mem[raddr];
          hit_b <= ren;
          addr_b <= raddr;
          for (int co = 0; co < CO; co++)
            wt_b[co*ACC_BITS+:ACC_BITS] <= ACC_BITS'($signed(wrow[co*W_BITS+:W_BITS]));
          if (wen) mem[waddr] <= wdata;
          fwd_en <= wen;
          fwd_addr <= waddr;
          fwd_data <= wdata;
        end
      end

      // stage B: the word as of now (the forwarding path), then its write
      assign bank_q[B] = fwd_en && fwd_addr == addr_b ? fwd_data : rd_q;
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
            wdata[co*ACC_BITS+:ACC_BITS] = bank_q[B][co*ACC_BITS+:ACC_BITS] + wt_b[co*ACC_BITS+:ACC_BITS];
        end else if (hit_b && op_b == OP_SWEEP) begin
          wen = 1'b1;  // the sweep takes the step's current and clears it
        end
      end
    end
  end

  // ------------------------------------------------------------------ membranes and LIF (stage B)
  logic [SP*CO-1:0] spikes;
  for (genvar j = 0; j < SP; j++) begin : g_sp
    logic [VW-1:0] vmem[GROUPS];
    logic [VW-1:0] v_q, v_new;
    logic [CO*RB-1:0] r_q, r_new;
    logic [CW-1:0] cur_word;
    int col_r;

    always_ff @(posedge clk) begin
      if (adv && op_a == OP_SWEEP) v_q <= vmem[g];
      if (adv && op_b == OP_SWEEP) vmem[g_b] <= v_new;
    end
    if (REFRACTORY > 0) begin : g_ref
      logic [CO*RB-1:0] rmem[GROUPS];
      always_ff @(posedge clk) begin
        if (adv && op_a == OP_SWEEP) r_q <= rmem[g];
        if (adv && op_b == OP_SWEEP) rmem[g_b] <= r_new;
      end
    end else begin : g_no_ref
      logic unused_r;  // no refractory period: the neurons' counters stay 0 (Verilator skips *unused*)
      assign r_q = '0;
      assign unused_r = ^r_new;
    end

    assign col_r = sw0_r_b + j >= BW ? sw0_r_b + j - BW : sw0_r_b + j;
    assign cur_word = bank_q[sh_r_b*BW+col_r];
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
          .cur(cur_word[co*ACC_BITS+:ACC_BITS]),
          .v(first_b ? '0 : v_q[co*STATE_BITS+:STATE_BITS]),
          .r(first_b ? '0 : r_q[co*RB+:RB]),
          .v_next(v_new[co*STATE_BITS+:STATE_BITS]),
          .r_next(r_new[co*RB+:RB]),
          .spike(spikes[j*CO+co])
      );
    end
  end

  // ------------------------------------------------------------------ stage A -> B, output
  always_ff @(posedge clk) begin
    if (rst) begin
      op_b <= OP_NOP;
      m_tvalid <= 1'b0;
      m_tdata <= '0;
    end else if (adv) begin
      op_b <= state == CLEAR ? OP_NOP : op_a;
      first_b <= first;
      bad_b <= cur_bad;
      last_b <= int'(sh) == H - 1 && int'(sgc) == GW - 1;
      gaddr_b <= ADDR_BITS'(int'(sh) * W + sw0);
      g_b <= g;
      sh_r_b <= int'(sh_r);
      sw0_r_b <= int'(sw0_r);
      m_tvalid <= 1'b0;
      if (op_b == OP_FRAME) begin
        m_tdata <= {bad_b, 1'b1, 1'b0, {ADDR_BITS{1'b0}}, {SP * CO{1'b0}}};
        m_tvalid <= 1'b1;
      end else if (op_b == OP_SWEEP && (spikes != '0 || last_b)) begin
        m_tdata <= {1'b0, 1'b0, last_b, gaddr_b, spikes};
        m_tvalid <= 1'b1;
      end
    end
  end
endmodule
