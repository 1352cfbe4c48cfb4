// Event-driven spiking dense readout in RTL: spiking_dense.hpp's schedule, the last layer of
// toolchain/models/snn.py (a linear synapse on the flattened (C, H, W) spikes, then li_step for
// the membrane readout or lif_step for the spike-count readout) and the frame's class, bit for
// bit (docs/snn_hardware.md, "RTL kernels").
//
// Per time step: EPC (1 or 2) events of one input word per cycle are issued (the lowest set
// lanes, x & -x), their weight rows (one ROM word of NO weights per input neuron) read a stage
// later through the ROM's two registered ports and added into NO current registers the stage
// after; two cycles after the step's last event was issued (the pipeline drains), ONE LIF lane
// (lif_neuron.sv, pipelined in three stages) updates neuron u = 0 .. NO-1, one per cycle, clears
// its current and keeps a running argmax of the updated membranes (MEMBRANE) or spike counts
// with a strict `>`: ties keep the lowest index, as torch.argmax; two more cycles drain the
// lane. The input waits meanwhile (the readout has cycles to spare, not LUTs: the convolutions
// are slower). So a frame takes the sum over its input words of max(1, ceil(events / EPC))
// cycles, plus NO + 4 per step, plus the FRAME word, plus the NO + 1 output words.
//
// Output (AXI4-Stream, 32-bit TDATA, one packet per frame, TLAST on its last word):
//   word 0       bits [15:0] the class (argmax after the last complete step; 0 before any),
//                bit 31 BAD (the frame's FRAME word had BAD: a short or long input frame)
//   word 1 + o   the final membrane of neuron o, sign-extended to 32 bits (o = 0 .. NO-1)
// After the packet the neurons, counts and argmax are cleared for the next frame. After reset
// likewise: a reset mid-frame drops the frame (the upstream kernels are reset with it).
module spiking_dense #(
    parameter int POS = 64,  // positions of the input plane (H W)
    parameter int CI = 4,  // input channels: input neuron c * POS + pos (torch's flatten of (C, H, W))
    parameter int IN_LANES = 16,  // lanes of an input word: IN_LANES / CI positions of one row
    parameter int NO = 24,  // output neurons (classes)
    parameter int W_BITS = 8,
    parameter int ACC_BITS = 16,  // the step current (wraps as the HLS kernel's ap_int)
    parameter int STATE_BITS = 24,  // 2..32
    parameter int LEAK_SHIFT = 4,
    parameter int THRESHOLD = 128,
    parameter bit RESET_ZERO = 1'b0,
    parameter int REFRACTORY = 0,
    parameter bit MEMBRANE = 1'b1,  // li_step + argmax of the final membranes; 0: lif_step + counts
    parameter int EPC = 2,  // events per cycle: 1 or 2 (the ROM's read ports)
    // the weight ROM [CI * POS][NO] (DenseSpec.weights): $readmemh file WEIGHT_FILE (relative to
    // the simulator's or synthesis tool's working folder), one line per input neuron of NO weights,
    // output 0 in the least significant bits (a file, as the convs' ROMs: Verilator caps parameters
    // at 65,536 bits, the shipped readout's ROM holds 786,432)
    parameter string WEIGHT_FILE = "weights.hex",
    localparam int ADDR_BITS = POS < 2 ? 1 : $clog2(POS),
    localparam int IN_BITS = IN_LANES + ADDR_BITS + 3
) (
    input  logic               clk,
    input  logic               rst,
    input  logic [IN_BITS-1:0] s_tdata,
    input  logic               s_tvalid,
    output logic               s_tready,
    output logic [       31:0] m_tdata,
    output logic               m_tlast,
    output logic               m_tvalid,
    input  logic               m_tready
);
  localparam int ROWS = CI * POS;
  localparam int RWB = ROWS < 2 ? 1 : $clog2(ROWS);
  localparam int UB = $clog2(NO + 2);
  localparam int RB = REFRACTORY < 2 ? 1 : $clog2(REFRACTORY + 1);
  localparam int COUNT_BITS = 16;  // spikes per frame per neuron: frames of < 65,536 steps
  localparam int STEP = IN_LANES + ADDR_BITS;

  typedef enum logic [1:0] {
    EVENTS,
    DRAIN,
    UPDATE,
    OUT
  } state_e;
  state_e state;

  // ------------------------------------------------------------------ weight ROM (two read ports)
  // block RAM: two registered read ports; without the attribute Yosys maps a ROM initialised
  // from a file to LUTs (3,212 LUT for the small network's 256 x 144 bits)
  (* rom_style = "block" *) logic [NO*W_BITS-1:0] rom[ROWS];
  initial $readmemh(WEIGHT_FILE, rom);
  // input neuron of lane l at address 0: (l mod CI) POS + l / CI (a table: no divider)
  logic [RWB-1:0] base_of[IN_LANES];
  for (genvar l = 0; l < IN_LANES; l++) begin : g_lane
    assign base_of[l] = RWB'((l % CI) * POS + l / CI);
  end

  // ------------------------------------------------------------------ events (stage A)
  logic [IN_LANES-1:0] mask_r, cur_mask, iso0, iso1, rem0, rem1;
  logic [ADDR_BITS-1:0] addr_r, cur_addr;
  logic step_r, cur_step, from_input, have_word, cur_frame, two;
  logic busy_r;  // mask_r != 0 as a register of its own: no wide OR before the input select
  logic take_r;  // !busy_r && !step_r, the input select, a register too (one LUT less on the loop)

  // step_r: the word just issued whole carried STEP (the step ends the next cycle, below)
  assign from_input = take_r;
  assign s_tready = state == EVENTS && from_input;
  assign have_word = from_input ? s_tvalid : 1'b1;
  assign cur_mask = from_input ? s_tdata[IN_LANES-1:0] : mask_r;
  assign cur_addr = from_input ? s_tdata[STEP-1:IN_LANES] : addr_r;
  assign cur_step = from_input ? s_tdata[STEP] : step_r;
  assign cur_frame = from_input && s_tdata[STEP+1];

  // The two lowest set lanes, one-hot, by carry chains (x & (x - 1) clears the lowest set bit),
  // not priority select chains: the rest of the word (rem1) is the next cycle's mask, a
  // loop-carried path. Without a second set lane rem0 is 0 and so are iso1 and rem1.
  always_comb begin
    rem0 = cur_mask & (cur_mask - 1'b1);
    iso0 = cur_mask & ~rem0;
    rem1 = EPC == 2 ? rem0 & (rem0 - 1'b1) : rem0;
    iso1 = EPC == 2 ? rem0 & ~rem1 : '0;
    two = iso1 != '0;
  end

  // ------------------------------------------------------------------ stage A: ROM rows read
  // The lanes' rows, one stage after the issue (off the loop): an OR of the one-hot lane's
  // table entry, plus the word's address; the ROM's two registered read ports.
  logic ev0_a, ev1_a, ev0_b, ev1_b;
  logic [IN_LANES-1:0] iso0_a, iso1_a;
  logic [ADDR_BITS-1:0] addr_a;
  logic [RWB-1:0] row_of0, row_of1;
  logic [NO*W_BITS-1:0] row0_b, row1_b;
  logic [ACC_BITS-1:0] acc[NO];
  always_comb begin
    row_of0 = '0;
    row_of1 = '0;
    for (int l = 0; l < IN_LANES; l++) begin
      if (iso0_a[l]) row_of0 = row_of0 | base_of[l];
      if (iso1_a[l]) row_of1 = row_of1 | base_of[l];
    end
    row_of0 = row_of0 + RWB'(addr_a);
    row_of1 = row_of1 + RWB'(addr_a);
  end
  // in a block of their own, without reset: block RAM
  always_ff @(posedge clk) begin
    if (state == EVENTS && have_word) begin
      iso0_a <= iso0;
      iso1_a <= iso1;
      addr_a <= cur_addr;
    end
    if (ev0_a) begin
      row0_b <= rom[row_of0];
      row1_b <= rom[row_of1];
    end
  end

  // ------------------------------------------------------------------ the LIF lane
  // Three stages, so that no cycle holds a NO-way mux, the update and the compare together:
  // U1 reads neuron u's current, membrane, refractory count and spike count (registered), U2
  // updates it (lif_neuron) and writes it back, U3 compares it with the best so far. u runs to
  // NO + 1: the last two cycles drain U2 and U3 before the input (and the FRAME word) resumes.
  logic [UB-1:0] u, u1, u2;
  logic go1, go2;
  logic [ACC_BITS-1:0] cur_u1;
  logic signed [STATE_BITS-1:0] v[NO], v_u1, v_next, v_u2, best_v;
  logic [RB-1:0] r[NO], r_u1, r_next;
  logic [COUNT_BITS-1:0] counts[NO], c_u1, count_next, c_u2, best_c;
  logic [15:0] cls;
  logic spike, better, bad;
  logic [UB-1:0] k, kv;  // output word, and k - 1 (its membrane) as a register: no subtractor before the mux

  lif_neuron #(
      .STATE_BITS(STATE_BITS),
      .CUR_BITS(ACC_BITS),
      .LEAK_SHIFT(LEAK_SHIFT),
      .THRESHOLD(THRESHOLD),
      .RESET_ZERO(RESET_ZERO),
      .REFRACTORY(REFRACTORY),
      .READOUT(MEMBRANE)
  ) u_lif (
      .cur(cur_u1),
      .v(v_u1),
      .r(r_u1),
      .v_next,
      .r_next,
      .spike
  );
  assign count_next = c_u1 + COUNT_BITS'(spike);
  // strict `>`: a later neuron must beat the best so far, so ties keep the lowest index
  assign better = u2 == '0 || (MEMBRANE ? v_u2 > best_v : c_u2 > best_c);

  always_ff @(posedge clk) begin  // U1 -> U2 -> U3 data (go1 / go2 say which hold a neuron)
    if (state == UPDATE && u < UB'(NO)) begin
      cur_u1 <= acc[u];
      v_u1 <= v[u];
      r_u1 <= r[u];
      c_u1 <= counts[u];
      u1 <= u;
    end
    v_u2 <= v_next;
    c_u2 <= count_next;
    u2 <= u1;
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      state <= EVENTS;
      mask_r <= '0;
      busy_r <= 1'b0;
      take_r <= 1'b1;
      addr_r <= '0;
      step_r <= 1'b0;
      ev0_a <= 1'b0;
      ev1_a <= 1'b0;
      ev0_b <= 1'b0;
      ev1_b <= 1'b0;
      go1 <= 1'b0;
      go2 <= 1'b0;
      u <= '0;
      k <= '0;
      kv <= '0;
      cls <= '0;
      bad <= 1'b0;
      best_v <= '0;
      best_c <= '0;
      for (int o = 0; o < NO; o++) begin
        acc[o] <= '0;
        v[o] <= '0;
        r[o] <= '0;
        counts[o] <= '0;
      end
    end else begin
      // stage B: the rows read at the last edge are added (they wrap in ACC_BITS)
      for (int o = 0; o < NO; o++)
        acc[o] <= acc[o] + (ev0_b ? ACC_BITS'($signed(row0_b[o*W_BITS+:W_BITS])) : '0)
                         + (ev1_b ? ACC_BITS'($signed(row1_b[o*W_BITS+:W_BITS])) : '0);
      ev0_b <= ev0_a;
      ev1_b <= ev1_a;
      ev0_a <= 1'b0;
      ev1_a <= 1'b0;
      // U2: the neuron read in U1 updated and written back; U3: the argmax
      go1 <= state == UPDATE && u < UB'(NO);
      go2 <= go1;
      if (go1) begin
        v[u1] <= v_next;
        r[u1] <= r_next;
        counts[u1] <= count_next;
      end
      if (go2 && better) begin
        best_v <= v_u2;
        best_c <= c_u2;
        cls <= 16'(u2);
      end
      case (state)
        EVENTS:
        if (!busy_r && step_r) begin  // the step's last events issued a cycle ago
          step_r <= 1'b0;
          take_r <= 1'b1;
          state <= DRAIN;
        end else if (have_word) begin
          if (cur_frame) begin
            bad <= s_tdata[STEP+2];
            state <= OUT;
            k <= '0;
            kv <= '0;
          end else begin
            if (cur_mask != '0) begin  // one or two events: their rows from the ROM's two ports
              ev0_a <= 1'b1;
              ev1_a <= two;
            end
            mask_r <= rem1;  // 0 when cur_mask is
            busy_r <= rem1 != '0;
            take_r <= rem1 == '0 && !cur_step;
            addr_r <= cur_addr;
            step_r <= cur_step;
          end
        end
        DRAIN: begin  // the step's last rows are being added
          state <= UPDATE;
          u <= '0;
        end
        UPDATE: begin  // U1 of neuron u (its current cleared as it is read)
          if (u < UB'(NO)) acc[u] <= '0;
          u <= u + 1'b1;
          if (u == UB'(NO + 1)) state <= EVENTS;
        end
        OUT:
        if (m_tready) begin
          k <= k + 1'b1;
          kv <= k == '0 ? '0 : kv + 1'b1;
          if (k == UB'(NO)) begin  // the packet's last word left: a new frame
            state <= EVENTS;
            mask_r <= '0;
            busy_r <= 1'b0;
            step_r <= 1'b0;
            cls <= '0;
            best_v <= '0;
            best_c <= '0;
            for (int o = 0; o < NO; o++) begin
              acc[o] <= '0;
              v[o] <= '0;
              r[o] <= '0;
              counts[o] <= '0;
            end
          end
        end
        default: state <= EVENTS;
      endcase
    end
  end

  // the output packet, straight from the registers (stable while it waits for TREADY)
  logic signed [STATE_BITS-1:0] v_out;
  assign v_out = v[kv];
  assign m_tvalid = state == OUT;
  assign m_tlast = k == UB'(NO);
  assign m_tdata = k == '0 ? {bad, 15'd0, cls} : 32'($signed(v_out));
endmodule
