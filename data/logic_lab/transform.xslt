<?xml version="1.0" encoding="UTF-8"?>
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <!-- Turns an order list into an HTML table, one row per order, totals at the end. -->
  <xsl:template match="/orders">
    <table>
      <xsl:apply-templates select="order"/>
      <tr><td>Total</td><td><xsl:value-of select="sum(order/@amount)"/></td></tr>
    </table>
  </xsl:template>

  <xsl:template match="order">
    <tr><td><xsl:value-of select="@id"/></td><td><xsl:value-of select="@amount"/></td></tr>
  </xsl:template>
</xsl:stylesheet>
