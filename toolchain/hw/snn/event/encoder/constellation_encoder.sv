// The constellation spike encoder in RTL: constellation_encoder.hpp cycle for cycle and word for
// word (docs/snn_hardware.md, "RTL kernels"). One I/Q sample per cycle in, one event word per
// kept sample out (the cell (QBIN[q], IBIN[i]) of an R x R plane; a word with STEP closes each
// time step of GROUP kept samples); TLAST closes the (possibly partial) step and the frame:
// after the frame's last sample, a STEP word if its last step is partial, then the FRAME word,
// BAD when the frame had not FRAME_LEN samples. Samples after FRAME_LEN without TLAST are
// dropped. BINARY drops repeats of a cell within a step (an R x R bitmap, cleared at once).
//
// Output word (spike_stream.hpp, one lane): bit 0 the event, [ADDR_BITS:1] the cell, then STEP,
// FRAME, BAD. Streams are valid/ready (AXI4-Stream); the output is a register. The input goes
// through a two-entry register slice (a head and a skid register, full throughput) that holds
// the sample already binned into its cell (row, column): the binning tables and the BINARY
// bitmap's lookup are in different cycles (the 250 MHz LUT-level budget), and s_tready is a
// register. One cycle of latency more than without the slice (rtl.py INPUT_STAGE_CYCLES).
module constellation_encoder #(
    parameter int IN_BITS = 8,
    parameter int R = 16,
    parameter int GROUP = 64,
    parameter int FRAME_LEN = 1024,
    parameter bit BINARY = 1'b0,
    localparam int CELL_BITS = R < 2 ? 1 : $clog2(R),
    localparam int CODES = 2 ** IN_BITS,
    // the binning tables: entry k (the two's complement code k) in bits [k*CELL_BITS +: CELL_BITS]
    parameter logic [CODES*CELL_BITS-1:0] IBIN = '0,
    parameter logic [CODES*CELL_BITS-1:0] QBIN = '0,
    localparam int ADDR_BITS = R * R < 2 ? 1 : $clog2(R * R),
    localparam int OUT_BITS = 1 + ADDR_BITS + 3
) (
    input  logic                   clk,
    input  logic                   rst,
    input  logic [  2*IN_BITS-1:0] s_tdata,   // I in [IN_BITS-1:0], Q above
    input  logic                   s_tlast,
    input  logic                   s_tvalid,
    output logic                   s_tready,
    output logic [   OUT_BITS-1:0] m_tdata,
    output logic                   m_tvalid,
    input  logic                   m_tready
);
  localparam int KB = $clog2(FRAME_LEN + 1);  // kept: 0..FRAME_LEN
  localparam int GB = GROUP < 2 ? 1 : $clog2(GROUP);  // in_step: 0..GROUP-1
  localparam logic [KB-1:0] FRAME_N = KB'(FRAME_LEN);
  localparam logic [GB-1:0] GROUP_LAST = GB'(GROUP - 1);

  typedef enum logic [1:0] {
    SAMPLES,
    TAIL_STEP,
    TAIL_FRAME
  } state_e;
  state_e state;

  logic [CELL_BITS-1:0] ibin_rom[CODES], qbin_rom[CODES];
  for (genvar k = 0; k < CODES; k++) begin : g_rom
    assign ibin_rom[k] = IBIN[k*CELL_BITS+:CELL_BITS];
    assign qbin_rom[k] = QBIN[k*CELL_BITS+:CELL_BITS];
  end

  logic [KB-1:0] kept;  // samples kept in the frame
  logic [GB-1:0] in_step;  // samples kept in the current step
  logic overrun;  // samples after FRAME_LEN without TLAST (dropped)
  // BINARY: cells already sent in this step, by row and column; looked up with the sample's row
  // and column one-hot (decoded before the slice's registers): an AND-OR, no R^2 : 1 select
  logic [R-1:0][R-1:0] seen;

  logic [ADDR_BITS-1:0] cell_id;
  logic keep, send, close, can_emit, take;
  logic [GB-1:0] in_step_next;

  // the input slice: the head (h_*, the sample the encoder works on) and the skid register (k_*,
  // the one taken while the head waited); s_tready is the skid register being empty
  logic [CELL_BITS-1:0] in_row, in_col, h_row, h_col, k_row, k_col;
  logic [R-1:0] in_row1, in_col1, h_row1, h_col1, k_row1, k_col1;  // the same one-hot
  logic h_valid, h_last, k_valid, k_last, h_free, h_seen;
  assign in_row = qbin_rom[s_tdata[2*IN_BITS-1:IN_BITS]];
  assign in_col = ibin_rom[s_tdata[IN_BITS-1:0]];
  assign in_row1 = R'(1) << in_row;
  assign in_col1 = R'(1) << in_col;
  assign s_tready = !k_valid;
  assign h_free = !h_valid || take;
  always_ff @(posedge clk) begin
    if (rst) begin
      h_valid <= 1'b0;
      k_valid <= 1'b0;
    end else if (h_free) begin
      h_valid <= k_valid || s_tvalid;
      k_valid <= 1'b0;
    end else if (s_tvalid) begin
      k_valid <= 1'b1;  // s_tready: the skid register was empty
    end
  end
  always_ff @(posedge clk) begin  // the data, without reset
    if (h_free)
      {h_row, h_col, h_row1, h_col1, h_last} <= k_valid ? {k_row, k_col, k_row1, k_col1, k_last}
                                                        : {in_row, in_col, in_row1, in_col1, s_tlast};
    else if (!k_valid) {k_row, k_col, k_row1, k_col1, k_last} <= {in_row, in_col, in_row1, in_col1, s_tlast};
  end
  logic [R-1:0] row_hit;  // per row, then one OR of the rows (a reduction, not a chain)
  for (genvar r = 0; r < R; r++) begin : g_row_hit
    assign row_hit[r] = h_row1[r] && (seen[r] & h_col1) != '0;
  end
  assign h_seen = |row_hit;

  assign cell_id = ADDR_BITS'(h_row) * ADDR_BITS'(R) + ADDR_BITS'(h_col);
  assign keep = kept < FRAME_N;
  assign send = !BINARY || !h_seen;
  assign close = in_step == GROUP_LAST;
  assign in_step_next = !keep ? in_step : (close ? '0 : in_step + 1'b1);
  assign can_emit = !m_tvalid || m_tready;
  assign take = h_valid && state == SAMPLES && can_emit;

  always_ff @(posedge clk) begin
    if (rst) begin
      state <= SAMPLES;
      kept <= '0;
      in_step <= '0;
      overrun <= 1'b0;
      seen <= '0;
      m_tvalid <= 1'b0;
      m_tdata <= '0;
    end else begin
      if (m_tready) m_tvalid <= 1'b0;
      unique case (state)
        SAMPLES:
        if (take) begin
          if (keep) begin
            kept <= kept + 1'b1;
            in_step <= in_step_next;
            if (close) seen <= '0;
            else if (BINARY) for (int r = 0; r < R; r++) if (h_row1[r]) seen[r] <= seen[r] | h_col1;
            if (send || close) begin
              m_tdata  <= {1'b0, 1'b0, close, cell_id, send};
              m_tvalid <= 1'b1;
            end
          end else begin
            overrun <= 1'b1;
          end
          if (h_last) state <= in_step_next != '0 ? TAIL_STEP : TAIL_FRAME;
        end
        TAIL_STEP:
        if (can_emit) begin
          m_tdata <= {1'b0, 1'b0, 1'b1, {ADDR_BITS{1'b0}}, 1'b0};
          m_tvalid <= 1'b1;
          state <= TAIL_FRAME;
        end
        TAIL_FRAME:
        if (can_emit) begin
          m_tdata <= {overrun || kept != FRAME_N, 1'b1, 1'b0, {ADDR_BITS{1'b0}}, 1'b0};
          m_tvalid <= 1'b1;
          state <= SAMPLES;
          kept <= '0;
          in_step <= '0;
          overrun <= 1'b0;
          seen <= '0;
        end
        default: state <= SAMPLES;
      endcase
    end
  end
endmodule
